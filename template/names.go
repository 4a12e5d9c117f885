package template

import (
	"fmt"
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
