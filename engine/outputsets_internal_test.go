package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// Deleting a set deletes every file that storing it stored. Storing follows
// nested playlists to any depth (bounded by MaxSetFiles), and a command can
// write playlists of its own making (any declared output may hold bytes
// copied from an input), so deleting must follow them as deep: a set whose
// playlists nest deeper than the delete looked left its deepest segments in
// storage after the file was reported deleted.
func TestDeleteSetFollowsEveryNestedPlaylist(t *testing.T) {
	ctx := context.Background()
	signer, err := storage.NewLinkSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := blobstore.Open(ctx, "mem://", blobstore.Options{PublicURL: "http://x", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e := &Engine{cfg: Config{Storage: b}}

	const depth = 8
	prefix := "files/f/1/"
	var keys []string
	put := func(name, data string) {
		if err := b.Put(ctx, prefix+name, strings.NewReader(data), ""); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, prefix+name)
	}
	for i := 0; i < depth; i++ {
		data := fmt.Sprintf("#EXTM3U\n#EXTINF:1,\nseg%d.ts\n", i)
		if i+1 < depth {
			// Each playlist also names the one that names it: a loop must
			// not make the delete go round forever.
			data += fmt.Sprintf("p%d.m3u8\np%d.m3u8\n", i+1, max(i-1, 0))
		}
		put(fmt.Sprintf("p%d.m3u8", i), data)
		put(fmt.Sprintf("seg%d.ts", i), "segment")
	}
	f := &store.File{ID: "f", CommandID: "c", Alias: SetOutputPrefix + "x", BlobKey: prefix + "p0.m3u8"}
	if err := e.deleteFileBytes(ctx, f); err != nil {
		t.Fatalf("deleteFileBytes: %v", err)
	}
	for _, k := range keys {
		if obj, err := b.Open(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			if obj != nil {
				obj.Close()
			}
			t.Errorf("%s is still stored after the set was deleted", k)
		}
	}
}

// An image sequence is exactly the files its pattern names, in number
// order; a symlink among them fails the output rather than being followed.
func TestImageSequenceFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"frame_010.jpg", "frame_002.jpg", "frame_001.jpg", "frame_0003.jpg", "frame_001.png", "other.jpg"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	seq, _ := template.ParseImageSequence("frame_%03d.jpg")
	out := store.OutputRef{Alias: SetOutputPrefix + "frames", FileName: "frame_%03d.jpg"}
	names, err := imageSequenceFiles(dir, seq, out)
	if err != nil || strings.Join(names, " ") != "frame_001.jpg frame_002.jpg frame_010.jpg" {
		t.Fatalf("imageSequenceFiles = %q, %v", names, err)
	}
	if got := string(imagePlaylist(names)); !strings.HasPrefix(got, "#EXTM3U\n") || !strings.Contains(got, "#EXTINF:0,\nframe_010.jpg\n#EXT-X-ENDLIST\n") {
		t.Errorf("imagePlaylist:\n%s", got)
	}
	if got := imagePlaylistName(seq); got != "frame.m3u8" {
		t.Errorf("imagePlaylistName = %q", got)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "frame_004.jpg")); err != nil {
		t.Fatal(err)
	}
	if _, err := imageSequenceFiles(dir, seq, out); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a symlink among the images: %v, want it refused", err)
	}
}
