package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
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
