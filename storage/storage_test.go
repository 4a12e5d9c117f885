package storage_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/storage"
)

func signer(t *testing.T, key string) *storage.LinkSigner {
	t.Helper()
	s, err := storage.NewLinkSigner([]byte(strings.Repeat(key, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLinkSigner(t *testing.T) {
	s := signer(t, "k")
	key := "files/abc/out put.mp4"
	link := s.Sign(key, time.Now().Add(time.Hour))
	u, err := url.Parse("http://x" + link)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimPrefix(u.Path, storage.LinkPrefix); got != key {
		t.Fatalf("the link's path unescapes to %q, want %q", got, key)
	}
	if !strings.HasPrefix(u.RawQuery, "expires=") || !strings.Contains(u.RawQuery, "&signature=") {
		t.Fatalf("query %q: want expires then signature", u.RawQuery)
	}
	if err := s.Verify(key, u.Query()); err != nil {
		t.Fatalf("a fresh link does not verify: %v", err)
	}
	q := u.Query()
	for name, check := range map[string]func() error{
		"other key":         func() error { return s.Verify("files/abc/other.mp4", q) },
		"other signer":      func() error { return signer(t, "z").Verify(key, q) },
		"later expiry":      func() error { return s.Verify(key, with(q, "expires", "99999999999")) },
		"changed signature": func() error { return s.Verify(key, with(q, "signature", "A"+q.Get("signature")[1:])) },
		"no signature":      func() error { return s.Verify(key, with(q, "signature", "")) },
		"bad expires":       func() error { return s.Verify(key, with(q, "expires", "soon")) },
	} {
		if err := check(); !errors.Is(err, storage.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
	old, _ := url.Parse("http://x" + s.Sign(key, time.Now().Add(-time.Second)))
	if err := s.Verify(key, old.Query()); !errors.Is(err, storage.ErrLinkExpired) {
		t.Errorf("expired link: Verify = %v, want ErrLinkExpired", err)
	}
	if _, err := storage.NewLinkSigner([]byte("short")); err == nil {
		t.Error("a short signing key was accepted")
	}
}

func with(q url.Values, k, v string) url.Values {
	c := url.Values{}
	for kk, vv := range q {
		c[kk] = append([]string(nil), vv...)
	}
	c.Set(k, v)
	return c
}

// The same behaviour on every local bucket kind.
func TestLocalBuckets(t *testing.T) {
	dir := t.TempDir()
	for _, rawURL := range []string{"file://" + filepath.Join(dir, "new", "files"), "mem://"} {
		t.Run(rawURL, func(t *testing.T) {
			ctx := context.Background()
			b, err := storage.Open(ctx, rawURL, storage.Options{PublicURL: "https://render.example/", Signer: signer(t, "k")})
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
	b, err := storage.Open(ctx, "file://"+t.TempDir(), storage.Options{PublicURL: "http://x", Signer: signer(t, "k")})
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
	if _, err := storage.Open(context.Background(), "mem://", storage.Options{}); err == nil {
		t.Fatal("a local bucket without a signer was accepted")
	}
}
