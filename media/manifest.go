package media

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Some demuxers open other files named inside the probed one: HLS playlists,
// DASH manifests and IMF compositions. The protocol whitelist stops network
// access but not local files, so a playlist uploaded by one user that names
// "/srv/work/<another job>/out.ts" would make ffprobe read that file and the
// facts would leak it. Before ffprobe runs, such files are read here and
// refused unless every file they name is a relative path below their own
// directory: what ffmpeg's own HLS and DASH outputs look like.

const (
	maxManifestBytes = 4 << 20 // a bigger playlist is refused rather than half checked
	maxManifestDepth = 4       // master → variant → ... nesting allowed
	maxManifestFiles = 256     // playlists and manifests checked per probe
	sniffBytes       = 1024    // enough to recognise a manifest after an ID3 tag
)

type manifestKind int

const (
	notManifest manifestKind = iota
	hlsManifest
	dashManifest
	imfManifest
)

// referenceGuard walks a manifest and the files it names, below root.
type referenceGuard struct {
	root    string
	visited map[string]bool
	files   int
}

// checkReferences returns a *notMediaError when the file at root/name, or a
// manifest it names, names a file outside root or cannot be checked.
func checkReferences(root, name string) error {
	guard := &referenceGuard{root: root, visited: map[string]bool{}}
	return guard.check(name, 0)
}

func (g *referenceGuard) check(rel string, depth int) error {
	if g.visited[rel] {
		return nil
	}
	g.visited[rel] = true
	full := filepath.Join(g.root, filepath.FromSlash(rel))
	head, err := sniffFile(full)
	if err != nil {
		// A named file that cannot be read is ffprobe's to report.
		return nil
	}
	kind := notManifest
	var data []byte
	switch {
	case isHLSPlaylist(head):
		kind = hlsManifest
	case looksLikeXML(head):
		// dash and imf detect their root element anywhere in the probe
		// buffer, so the whole document is searched, not just its start.
		if data, err = readFilePrefix(full, maxManifestBytes+1); err != nil {
			return fmt.Errorf("media: read %q: %w", path.Base(rel), withoutPath(err))
		}
		kind = xmlManifestKind(data)
	}
	if kind == notManifest {
		return nil
	}
	if kind == imfManifest {
		return &notMediaError{reason: "IMF compositions are not probed"}
	}
	g.files++
	if depth > maxManifestDepth || g.files > maxManifestFiles {
		return &notMediaError{reason: "playlists are nested too deeply"}
	}
	if data == nil {
		if data, err = readFilePrefix(full, maxManifestBytes+1); err != nil {
			return fmt.Errorf("media: read %q: %w", path.Base(rel), withoutPath(err))
		}
	}
	if len(data) > maxManifestBytes {
		return &notMediaError{reason: fmt.Sprintf("playlist larger than %d MiB", maxManifestBytes>>20)}
	}

	var references []string
	if kind == hlsManifest {
		references = hlsReferences(skipID3(data))
	} else if references, err = dashReferences(data); err != nil {
		return &notMediaError{reason: "unreadable DASH manifest: " + err.Error()}
	}
	base := path.Dir(rel)
	for _, ref := range references {
		if !isLocalReference(ref) {
			return &notMediaError{reason: fmt.Sprintf("playlist names a file outside its directory: %q", truncate(ref, 80))}
		}
	}
	for _, ref := range references {
		// DASH templates ("seg-$Number$.m4s") do not name one file; the
		// characters they may expand to cannot leave the directory.
		if strings.Contains(ref, "$") {
			continue
		}
		// A segment may itself be a playlist: the nested demuxer detects
		// formats by content, so every named file is sniffed.
		if err := g.check(path.Join(base, ref), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// isLocalReference accepts relative paths that stay below the manifest's
// directory. Without a ':' ffmpeg cannot read a protocol name out of the
// reference, so it resolves to a file relative to the manifest.
func isLocalReference(ref string) bool {
	if ref == "" || strings.HasPrefix(ref, "/") || strings.ContainsAny(ref, ":\\,") {
		return false
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	for _, part := range strings.Split(ref, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

// isHLSPlaylist recognises an HLS playlist by its "#EXTM3U" first line, as
// ffmpeg's probe does (sniffFile has already skipped an ID3 tag; a UTF-8 BOM
// is tolerated to err on the side of checking).
func isHLSPlaylist(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(head, []byte("#EXTM3U"))
}

// looksLikeXML reports whether the file starts like an XML document; libxml2,
// which the dash and imf demuxers use, accepts nothing else.
func looksLikeXML(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("<"))
}

// xmlManifestKind tells DASH and IMF documents by the root elements their
// demuxers probe for.
func xmlManifestKind(data []byte) manifestKind {
	lower := bytes.ToLower(data)
	switch {
	case bytes.Contains(lower, []byte("<compositionplaylist")):
		return imfManifest
	case bytes.Contains(lower, []byte("<mpd")):
		return dashManifest
	}
	return notManifest
}

// id3Length is the length of a leading ID3v2 tag (10-byte header with a
// syncsafe size, plus a 10-byte footer when flagged), or 0 when there is none.
func id3Length(data []byte) int {
	if len(data) < 10 || !bytes.HasPrefix(data, []byte("ID3")) {
		return 0
	}
	size := int(data[6]&0x7f)<<21 | int(data[7]&0x7f)<<14 | int(data[8]&0x7f)<<7 | int(data[9]&0x7f)
	size += 10
	if data[5]&0x10 != 0 {
		size += 10
	}
	return size
}

// skipID3 drops a leading ID3v2 tag.
func skipID3(data []byte) []byte {
	size := id3Length(data)
	if size >= len(data) {
		return data[len(data):]
	}
	return data[size:]
}

// sniffFile returns the first sniffBytes of the file after any ID3 tag, so a
// playlist hidden behind a large tag is still recognised.
func sniffFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head, err := readUpTo(f, sniffBytes)
	if err != nil {
		return nil, err
	}
	if size := id3Length(head); size > 0 {
		if _, err := f.Seek(int64(size), io.SeekStart); err != nil {
			return nil, err
		}
		return readUpTo(f, sniffBytes)
	}
	return head, nil
}

// readFilePrefix reads at most limit bytes of the file.
func readFilePrefix(file string, limit int) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readUpTo(f, limit)
}

func readUpTo(r io.Reader, limit int) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, int64(limit)))
}

// hlsAttributeURI finds URI attributes on tag lines (EXT-X-KEY, EXT-X-MAP,
// EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF, ...), quoted or not, as ffmpeg's
// attribute parser accepts both.
var hlsAttributeURI = regexp.MustCompile(`(?i)(?:^|[:,])\s*URI\s*=\s*(?:"([^"]*)"|([^,]*))`)

// hlsReferences lists every file an HLS playlist names: each URI line and
// every URI attribute of a tag.
func hlsReferences(data []byte) []string {
	var refs []string
	// ffmpeg ends a playlist line at '\n', '\r' or NUL (ff_get_chomp_line),
	// so must we: splitting on '\n' alone let "#EXTINF:1,\r/abs/path" hide
	// a segment line inside a comment.
	lines := strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == '\r' || r == 0 })
	for _, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			for _, match := range hlsAttributeURI.FindAllStringSubmatch(line, -1) {
				refs = append(refs, strings.TrimSpace(match[1]+match[2]))
			}
		default:
			refs = append(refs, line)
		}
	}
	return refs
}

// dashURLAttributes are the DASH attributes that hold (templates of) URLs.
var dashURLAttributes = map[string]bool{
	"media":              true,
	"initialization":     true,
	"sourceurl":          true,
	"href":               true,
	"index":              true,
	"bitstreamswitching": true,
}

// dashReferences lists every URL a DASH manifest names. The manifest must be
// plain XML: a DOCTYPE could define entities that libxml2 (which ffmpeg
// uses) expands into a URL this parser would not see.
func dashReferences(data []byte) ([]string, error) {
	decoder := xml.NewDecoder(bytes.NewReader(data))
	decoder.Strict = true
	var refs []string
	var text strings.Builder
	inURLElement := false
	for {
		token, err := decoder.Token()
		if errors.Is(err, io.EOF) {
			return refs, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := token.(type) {
		case xml.Directive:
			return nil, errors.New("DOCTYPE and other directives are not allowed")
		case xml.StartElement:
			for _, attr := range t.Attr {
				name := strings.ToLower(attr.Name.Local)
				if !dashURLAttributes[name] {
					continue
				}
				value := strings.TrimSpace(attr.Value)
				if name == "bitstreamswitching" && (value == "true" || value == "false") {
					continue
				}
				refs = append(refs, value)
			}
			inURLElement = isDashURLElement(t.Name.Local)
			text.Reset()
		case xml.CharData:
			if inURLElement {
				text.Write(t)
			}
		case xml.EndElement:
			if inURLElement && isDashURLElement(t.Name.Local) {
				if ref := strings.TrimSpace(text.String()); ref != "" {
					refs = append(refs, ref)
				}
			}
			inURLElement = false
		}
	}
}

func isDashURLElement(name string) bool {
	switch strings.ToLower(name) {
	case "baseurl", "location", "patchlocation":
		return true
	}
	return false
}

func truncate(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	return strings.ToValidUTF8(text[:limit], "") + "…"
}
