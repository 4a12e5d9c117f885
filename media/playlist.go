package media

import (
	"errors"
	"fmt"
)

// MaxPlaylistBytes is the largest HLS playlist PlaylistFiles reads.
const MaxPlaylistBytes = maxManifestBytes

// ErrNotPlaylist: the data is not an HLS playlist (no #EXTM3U first line).
var ErrNotPlaylist = errors.New("media: not an HLS playlist")

// PlaylistFiles lists every file an HLS playlist names (URI lines and URI
// attributes of tags), in order, each once. The playlist is hostile input
// (ffmpeg wrote it, but from a stranger's command), so it is read with the
// same rules as the guard that runs before ffprobe: every reference must be
// a relative path below the playlist's own directory, with no protocol, no
// "..", no backslash and no control character; otherwise the error says
// which reference is at fault.
func PlaylistFiles(data []byte) ([]string, error) {
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("media: playlist larger than %d MiB", maxManifestBytes>>20)
	}
	data = skipID3(data)
	if !isHLSPlaylist(data) {
		return nil, ErrNotPlaylist
	}
	var files []string
	seen := map[string]bool{}
	for _, ref := range hlsReferences(data) {
		if !isLocalReference(ref) {
			return nil, fmt.Errorf("media: playlist names a file outside its directory: %q", truncate(ref, 80))
		}
		if !seen[ref] {
			seen[ref] = true
			files = append(files, ref)
		}
	}
	return files, nil
}
