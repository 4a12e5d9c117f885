package blobstore_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
)

func signer(t *testing.T, key string) *storage.LinkSigner {
	t.Helper()
	s, err := storage.NewLinkSigner([]byte(strings.Repeat(key, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The same behaviour on every local bucket kind.
func TestLocalBuckets(t *testing.T) {
	dir := t.TempDir()
	for _, rawURL := range []string{"file://" + filepath.Join(dir, "new", "files"), "mem://"} {
		t.Run(rawURL, func(t *testing.T) {
			ctx := context.Background()
			b, err := blobstore.Open(ctx, rawURL, blobstore.Options{PublicURL: "https://render.example/", Signer: signer(t, "k")})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			key := "files/id1/a.mp4"
			if err := b.Put(ctx, key, strings.NewReader("0123456789"), "video/mp4"); err != nil {
				t.Fatal(err)
			}
			obj, err := b.Open(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if obj.Size != 10 || obj.ContentType != "video/mp4" {
				t.Errorf("size %d type %q", obj.Size, obj.ContentType)
			}
			obj.Seek(4, io.SeekStart)
			rest, _ := io.ReadAll(obj)
			obj.Close()
			if string(rest) != "456789" {
				t.Errorf("after Seek(4) read %q", rest)
			}
			link, err := b.URL(ctx, key, time.Hour)
			if err != nil || !strings.HasPrefix(link, "https://render.example/storage/files/id1/a.mp4?expires=") {
				t.Errorf("URL = %q, %v", link, err)
			}
			if b.LinkSigner() == nil || !b.Local() {
				t.Error("a local bucket must expose its link signer")
			}
			if err := b.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if err := b.Delete(ctx, key); err != nil {
				t.Errorf("deleting a missing object: %v", err)
			}
			if _, err := b.Open(ctx, key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Open after Delete = %v, want ErrNotFound", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new", "files")); err != nil {
		t.Errorf("the file bucket's directory was not created: %v", err)
	}
}

// A failed copy must not leave a partial object behind.
func TestPutFailureLeavesNoObject(t *testing.T) {
	ctx := context.Background()
	b, err := blobstore.Open(ctx, "file://"+t.TempDir(), blobstore.Options{PublicURL: "http://x", Signer: signer(t, "k")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Put(ctx, "files/x/broken.mp4", io.MultiReader(strings.NewReader("partial"), failingReader{}), "video/mp4")
	if err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	if _, err := b.Open(ctx, "files/x/broken.mp4"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a partial object exists after a failed Put: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestLocalBucketNeedsSigner(t *testing.T) {
	if _, err := blobstore.Open(context.Background(), "mem://", blobstore.Options{}); err == nil {
		t.Fatal("a local bucket without a signer was accepted")
	}
}

// A file:// bucket keeps each object's attributes in a "<key>.attrs" file
// beside it. A directory link lets anyone holding it ask for any name in
// the directory, so asking for that sidecar must answer ErrNotFound (a 404)
// like any other name that holds no object, not an error the handler
// reports as a 500 and logs.
func TestOpenAttributesSidecarIsNotFound(t *testing.T) {
	ctx := context.Background()
	b, err := blobstore.Open(ctx, "file://"+t.TempDir(), blobstore.Options{PublicURL: "http://x", Signer: signer(t, "k")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Put(ctx, "files/f/1/stream.m3u8", strings.NewReader("#EXTM3U\n"), "application/vnd.apple.mpegurl"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"files/f/1/stream.m3u8.attrs", "files/f/1/x.attrs"} {
		if obj, err := b.Open(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			if obj != nil {
				obj.Close()
			}
			t.Errorf("Open(%q) = %v, want storage.ErrNotFound", key, err)
		}
	}
}
