package template

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on a request. They keep error messages, argv and the work
// directory small, and match what the hosted services accept.
const (
	MaxSteps         = 10
	MaxInputs        = 10
	MaxOutputs       = 10
	MaxAliasLen      = 64
	MaxFileNameBytes = 255 // the usual file system limit for one name
	MaxCommandBytes  = 32 << 10
)

const (
	inputAliasPrefix  = "in_"
	outputAliasPrefix = "out_"
)

// ValidInputAlias reports whether s is a usable input_files key:
// "in_" followed by letters, digits or _, at most MaxAliasLen bytes.
func ValidInputAlias(s string) bool { return validAlias(s, inputAliasPrefix) }

// ValidOutputAlias reports whether s is a usable output_files key:
// "out_" followed by letters, digits or _, at most MaxAliasLen bytes.
func ValidOutputAlias(s string) bool { return validAlias(s, outputAliasPrefix) }

func validAlias(s, prefix string) bool {
	if len(s) > MaxAliasLen || len(s) <= len(prefix) || !strings.HasPrefix(s, prefix) {
		return false
	}
	return allAliasBytes(s)
}

func allAliasBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAliasByte(s[i]) {
			return false
		}
	}
	return true
}

// aliasProblem explains why an alias is not valid, or returns "" if it is.
// kind is "input" or "output".
func aliasProblem(alias, prefix, kind string) string {
	switch {
	case len(alias) > MaxAliasLen:
		return fmt.Sprintf("%s alias %q is %d bytes long; the limit is %d", kind, shorten(alias, 80), len(alias), MaxAliasLen)
	case validAlias(alias, prefix):
		return ""
	}
	return fmt.Sprintf("%s alias %q is not allowed: %s aliases are %q followed by letters, digits or _ (for example %q)",
		kind, alias, kind, prefix, prefix+"video")
}

// ValidOutputFileName checks an output_files value. A name is a plain base
// name of ASCII letters, digits, _ and - followed by exactly one extension
// ("clip_720p.mp4"), at most MaxFileNameBytes bytes. That excludes path
// separators and "..", so the file stays in the job's output directory; a
// leading "-", so ffmpeg can never read the name as an option; a leading ".",
// so it is never hidden; and every character that needs escaping in a
// filtergraph or has a meaning in an ffmpeg output pattern (% : , ' etc.).
// The error says what is wrong and what is allowed.
func ValidOutputFileName(s string) error {
	const allowed = `use letters, digits, _ and - followed by one extension, for example "video.mp4"`
	q := fmt.Sprintf("%q", shorten(s, 80))
	switch {
	case s == "":
		return fmt.Errorf("output file name is empty; %s", allowed)
	case len(s) > MaxFileNameBytes:
		return fmt.Errorf("output file name %s is %d bytes long; the limit is %d", q, len(s), MaxFileNameBytes)
	case strings.ContainsAny(s, `/\`):
		return fmt.Errorf("output file name %s contains a path separator; give a plain file name: %s", q, allowed)
	case s[0] == '-':
		return fmt.Errorf("output file name %s starts with \"-\", which ffmpeg would read as an option; %s", q, allowed)
	case s[0] == '.':
		return fmt.Errorf("output file name %s starts with \".\"; %s", q, allowed)
	}
	for i, r := range s {
		if r == '.' || r == '-' || (r < utf8.RuneSelf && isAliasByte(byte(r))) {
			continue
		}
		return fmt.Errorf("output file name %s contains %q at byte %d; %s", q, r, i, allowed)
	}
	dot := strings.IndexByte(s, '.')
	switch {
	case dot < 0:
		return fmt.Errorf("output file name %s has no extension; ffmpeg picks the format from it: %s", q, allowed)
	case strings.Count(s, ".") > 1:
		return fmt.Errorf("output file name %s has more than one \".\"; only one extension is allowed: %s", q, allowed)
	case dot == len(s)-1:
		return fmt.Errorf("output file name %s has an empty extension; %s", q, allowed)
	case strings.Contains(s[dot:], "-"):
		return fmt.Errorf("output file name %s has \"-\" in its extension; an extension is letters and digits only: %s", q, allowed)
	}
	return nil
}

// shorten cuts s to at most limit bytes on a character boundary, marking the
// cut, so that a hostile multi-kilobyte token cannot bloat a message.
func shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// SetAliasPrefix starts the alias of an output that is a set of files: an
// HLS playlist and its segments, or an image sequence (see
// ImageSequenceName). Only these outputs may have a pattern as file name.
const SetAliasPrefix = "out_playlist_"

// imageSequenceExts are the extensions an image sequence may have: ones
// that ffmpeg's image2 muxer writes as one still image per file.
var imageSequenceExts = map[string]bool{
	"jpg": true, "jpeg": true, "png": true, "webp": true, "bmp": true, "tif": true, "tiff": true,
}

// ImageSequence is a parsed image sequence file name such as
// "frame_%03d.jpg": ffmpeg's image2 muxer writes Prefix, the frame number
// written with at least Width digits (zero-padded), then Suffix.
type ImageSequence struct {
	Prefix string
	Width  int
	Suffix string
}

// ParseImageSequence parses an image sequence file name. It reports false
// for anything else, including plain names, so that callers can tell a
// pattern from a plain name; ValidImageSequenceName says what is wrong.
func ParseImageSequence(s string) (ImageSequence, bool) {
	if ValidImageSequenceName(s) != nil {
		return ImageSequence{}, false
	}
	return splitImageSequence(s), true
}

// splitImageSequence splits a name with exactly one %d or %0Nd.
func splitImageSequence(s string) ImageSequence {
	i := strings.IndexByte(s, '%')
	j := i + 1
	for s[j] != 'd' {
		j++
	}
	width := 1
	if j > i+1 {
		width = int(s[j-1] - '0')
	}
	return ImageSequence{Prefix: s[:i], Width: width, Suffix: s[j+1:]}
}

// Name is the file name ffmpeg writes for frame n.
func (q ImageSequence) Name(n uint64) string {
	return fmt.Sprintf("%s%0*d%s", q.Prefix, q.Width, n, q.Suffix)
}

// Match reports whether name is a file ffmpeg writes for this pattern, and
// for which frame number: exactly the names Name gives, so a file whose
// number is written another way (extra leading zeros) is not one of them.
func (q ImageSequence) Match(name string) (uint64, bool) {
	if len(name) <= len(q.Prefix)+len(q.Suffix) || !strings.HasPrefix(name, q.Prefix) || !strings.HasSuffix(name, q.Suffix) {
		return 0, false
	}
	digits := name[len(q.Prefix) : len(name)-len(q.Suffix)]
	if len(digits) > 18 { // beyond any frame number, and uint64's reach
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || q.Name(n) != name {
		return 0, false
	}
	return n, true
}

// Overlaps reports whether some file name could belong to both patterns. A
// name belongs to a pattern only if the pattern's prefix starts it and its
// suffix ends it, so two patterns can share a name only if one prefix starts
// the other and one suffix ends the other; that is what is checked, which
// refuses a few pairs that could never share a name in exchange for
// certainty.
func (q ImageSequence) Overlaps(o ImageSequence) bool {
	prefixes := strings.HasPrefix(q.Prefix, o.Prefix) || strings.HasPrefix(o.Prefix, q.Prefix)
	suffixes := strings.HasSuffix(q.Suffix, o.Suffix) || strings.HasSuffix(o.Suffix, q.Suffix)
	return prefixes && suffixes
}

// ValidImageSequenceName checks an image sequence file name, the file name
// of a set output (SetAliasPrefix) that ffmpeg's image2 muxer writes as one
// image per frame: a plain output file name (see ValidOutputFileName) with
// exactly one frame number pattern, %d or %0Nd with N from 1 to 9, before an
// image extension (jpg, jpeg, png, webp, bmp, tif, tiff), for example
// "frame_%03d.jpg". No other "%" is allowed: the muxer reads them too.
func ValidImageSequenceName(s string) error {
	const allowed = `an image sequence is a file name with one %d or %0Nd (N from 1 to 9) and an image extension, for example "frame_%03d.jpg"`
	q := fmt.Sprintf("%q", shorten(s, 80))
	if n := strings.Count(s, "%"); n != 1 {
		return fmt.Errorf("output file name %s has %d %%-patterns; %s", q, n, allowed)
	}
	i := strings.IndexByte(s, '%')
	rest := s[i+1:]
	switch {
	case strings.HasPrefix(rest, "d"):
	case len(rest) >= 3 && rest[0] == '0' && rest[1] >= '1' && rest[1] <= '9' && rest[2] == 'd':
	default:
		return fmt.Errorf("output file name %s has a %% that is not %%d or %%0Nd; %s", q, allowed)
	}
	seq := splitImageSequence(s)
	// What is left once the pattern is replaced by a frame number must be
	// a plain output file name.
	if err := ValidOutputFileName(seq.Name(1)); err != nil {
		return fmt.Errorf("%w (checked with %s replaced by a frame number)", err, s[i:len(s)-len(seq.Suffix)])
	}
	if dot := strings.IndexByte(seq.Suffix, '.'); dot < 0 {
		return fmt.Errorf("output file name %s has its %%d in the extension; %s", q, allowed)
	} else if ext := strings.ToLower(seq.Suffix[dot+1:]); !imageSequenceExts[ext] {
		return fmt.Errorf("output file name %s has extension %q, which is not an image extension (jpg, jpeg, png, webp, bmp, tif, tiff); %s", q, ext, allowed)
	}
	return nil
}
