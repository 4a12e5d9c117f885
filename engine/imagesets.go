package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// Image sequences. A set output (SetOutputPrefix) whose file name is an
// image pattern such as "frame_%03d.jpg" (template.ValidImageSequenceName)
// is written by ffmpeg's image2 muxer as one file per frame in the out dir.
// ffmpeg writes no playlist for them, so the engine writes one: after the
// run it lists the out dir for the regular files the pattern names exactly
// (template.ImageSequence.Match), stores them in frame-number order under
// the set's prefix with the checks every output gets, then stores a
// playlist naming them, the set's playlist (imagePlaylistName). From then
// on the set is an HLS set like any other: its file record, storage_url
// (a link that opens the prefix), delete and retention all go through the
// playlist. The record's media facts are ffprobe's reading of the first
// image, with the playlist's MIME type (storage_url serves the playlist).

// imagePlaylistName is the name of the playlist the engine writes for an
// image sequence: the pattern's text before the number, without trailing _
// or -, then .m3u8 ("frame_%03d.jpg" gives "frame.m3u8"); "images.m3u8"
// when that leaves nothing. It can't be one of the images (they have an
// image extension).
func imagePlaylistName(seq template.ImageSequence) string {
	base := strings.TrimRight(seq.Prefix, "_-")
	if base == "" {
		base = "images"
	}
	return base + ".m3u8"
}

// imagePlaylist is the playlist of an image sequence: one entry per image,
// in order, with no duration (the engine does not know the frame rate).
func imagePlaylist(names []string) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	for _, name := range names {
		b.WriteString("#EXTINF:0,\n")
		b.WriteString(name)
		b.WriteByte('\n')
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String())
}

// imageSequenceFiles lists the images of seq that ffmpeg wrote in dir, in
// frame-number order. A name the pattern matches that is not a regular file
// fails the output, as a playlist naming one does; more than MaxSetFiles-1
// images (the playlist makes the set MaxSetFiles) fail it as too large.
func imageSequenceFiles(dir string, seq template.ImageSequence, out store.OutputRef) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	type image struct {
		n    uint64
		name string
	}
	var images []image
	for {
		entries, err := d.ReadDir(1024)
		for _, entry := range entries {
			n, ok := seq.Match(entry.Name())
			if !ok {
				continue
			}
			if !entry.Type().IsRegular() { // Type is the lstat's: a symlink is not followed
				return nil, failf(ErrorOutputMissing, "image %s of output %s is not a regular file", entry.Name(), out.Alias)
			}
			if len(images) >= MaxSetFiles-1 {
				return nil, failf(ErrorOutputTooLarge, "output %s has more than %d images", out.Alias, MaxSetFiles-1)
			}
			images = append(images, image{n, entry.Name()})
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(images, func(a, b image) int {
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	})
	names := make([]string, len(images))
	for i, im := range images {
		names[i] = im.name
	}
	return names, nil
}

// storeImageSequence stores the images of an image sequence output and the
// playlist the engine writes for them, and returns the set's record. On
// failure it deletes what it stored.
func (e *Engine) storeImageSequence(ctx context.Context, c *claim, out store.OutputRef, seq template.ImageSequence, dir, prefix string) (*store.File, error) {
	names, err := imageSequenceFiles(dir, seq, out)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, failf(ErrorOutputMissing, "ffmpeg finished without writing any image of output %s (%s); check that the command writes {{%s}} as images (for example -vf fps=1 {{%s}})",
			out.Alias, out.FileName, out.Alias, out.Alias)
	}
	stored, total, firstErr := e.storeSetMembers(ctx, c, dir, prefix, names, out, func(name string) string {
		return fmt.Sprintf("image %s of output %s", name, out.Alias)
	})
	playlist := imagePlaylist(names)
	total += int64(len(playlist))
	if firstErr == nil && total > e.cfg.MaxOutputBytes {
		firstErr = failf(ErrorOutputTooLarge, "output %s and its images are %d bytes, over the %d-byte limit", out.Alias, total, e.cfg.MaxOutputBytes)
	}
	listName := imagePlaylistName(seq)
	key := prefix + listName
	var info media.Info
	var probeErr error
	if firstErr == nil {
		// The first image stands for the set's media facts; it was
		// checked and stored above, and the probe only reads it.
		info, probeErr, firstErr = e.probeWhile(ctx, filepath.Join(dir, names[0]), func() error {
			return e.uploadBytes(ctx, c, playlist, key, media.MimeType(listName, ""))
		})
	}
	if firstErr != nil {
		e.deleteSetKeys(stored, c)
		return nil, firstErr
	}
	if probeErr != nil {
		info = media.Info{FileType: "other"}
	}
	info.MimeType = media.MimeType(listName, "")
	return e.storedOutput(c.cmd, out, key, total, info), nil
}
