package storage_test

import (
	"errors"
	"net/url"
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
