package storage_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/storage"
)

// splitDirLink takes a SignDir path apart as the HTTP handler's route does:
// expires, signature and the unescaped key.
func splitDirLink(t *testing.T, link string) (expires, signature, key string) {
	t.Helper()
	u, err := url.Parse("http://x" + link)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(u.Path, storage.DirLinkPrefix)
	if !ok {
		t.Fatalf("%q does not start with %s", link, storage.DirLinkPrefix)
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 {
		t.Fatalf("%q: want <expires>/<signature>/<key>", link)
	}
	return parts[0], parts[1], parts[2]
}

// A directory link opens the objects directly in its key's directory and
// nothing else: not a sibling directory whose name starts alike, not a
// parent, not a subdirectory, not the directory itself; a file link's
// signature is not a directory's.
func TestDirLinkScope(t *testing.T) {
	s := signer(t, "k")
	key := "files/abc/1/stream.m3u8"
	exp, sig, got := splitDirLink(t, s.SignDir(key, time.Now().Add(time.Hour)))
	if got != key {
		t.Fatalf("the link's key unescapes to %q, want %q", got, key)
	}
	for _, member := range []string{key, "files/abc/1/stream0.ts", "files/abc/1/init.mp4"} {
		if err := s.VerifyDir(member, exp, sig); err != nil {
			t.Errorf("VerifyDir(%q) = %v, want nil: a member of the set", member, err)
		}
	}
	for _, outside := range []string{
		"files/abcd/1/stream0.ts",    // a sibling whose name starts alike
		"files/ab/1/stream0.ts",      // and one that is a prefix of it
		"files/abc/10/stream0.ts",    // another attempt's dir starting alike
		"files/abc/1x/stream0.ts",    //
		"files/abc/stream0.ts",       // the parent
		"files/abc/1/sub/seg.ts",     // a subdirectory
		"files/abc/1/../2/seg.ts",    // a parent reached through ..
		"files/abc/1/..",             // the parent itself
		"files/abc/1/.",              // the directory itself
		"files/abc/1//stream0.ts",    // not the key the engine stores
		"files/abc/1/./stream0.ts",   //
		"files/abc/1/",               // no object
		"/files/abc/1/stream0.ts",    //
		"files/other/1/stream0.ts",   // another file's set
		"files/abc/1/stream0.ts\x00", //
	} {
		if err := s.VerifyDir(outside, exp, sig); !errors.Is(err, storage.ErrBadSignature) {
			t.Errorf("VerifyDir(%q) = %v, want ErrBadSignature", outside, err)
		}
	}
	// The expiry is signed.
	if err := s.VerifyDir(key, exp+"0", sig); !errors.Is(err, storage.ErrBadSignature) {
		t.Errorf("a changed expiry: %v", err)
	}
	// Another signing key, and a file link's signature, don't verify.
	if err := signer(t, "j").VerifyDir(key, exp, sig); !errors.Is(err, storage.ErrBadSignature) {
		t.Errorf("another signer: %v", err)
	}
	fileLink, _ := url.Parse("http://x" + s.Sign("files/abc/1", time.Now().Add(time.Hour)))
	q := fileLink.Query()
	if err := s.VerifyDir(key, q.Get("expires"), q.Get("signature")); !errors.Is(err, storage.ErrBadSignature) {
		t.Errorf("a file link's signature for the dir's key verified as a directory link: %v", err)
	}
	// Expired.
	exp, sig, _ = splitDirLink(t, s.SignDir(key, time.Now().Add(-time.Second)))
	if err := s.VerifyDir(key, exp, sig); !errors.Is(err, storage.ErrLinkExpired) {
		t.Errorf("an expired link: %v, want ErrLinkExpired", err)
	}
}
