package blobstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
)

// A local bucket knows its own links (under PublicURL, even mounted below a
// path prefix) and checks their signatures; anything else is not its own.
func TestResolveLocalLinks(t *testing.T) {
	ctx := context.Background()
	b, err := blobstore.Open(ctx, "mem://", blobstore.Options{PublicURL: "https://render.example/api/", Signer: signer(t, "k")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := "files/id 1/a b.mp4"
	link, err := b.URL(ctx, key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := b.ResolveLink(link); !ok || err != nil || got != key {
		t.Errorf("ResolveLink(own link) = %q, %v, %v; want %q, true, nil", got, ok, err, key)
	}
	expired := "https://render.example/api" + signer(t, "k").Sign(key, time.Now().Add(-time.Minute))
	if _, ok, err := b.ResolveLink(expired); !ok || !errors.Is(err, storage.ErrLinkExpired) {
		t.Errorf("ResolveLink(expired) = %v, %v; want ours, ErrLinkExpired", ok, err)
	}
	forged := "https://render.example/api" + signer(t, "x").Sign(key, time.Now().Add(time.Hour))
	if _, ok, err := b.ResolveLink(forged); !ok || !errors.Is(err, storage.ErrBadSignature) {
		t.Errorf("ResolveLink(signed with another key) = %v, %v; want ours, ErrBadSignature", ok, err)
	}
	// A link this bucket signed is its own however the host is spelled:
	// otherwise another account could have it downloaded as a foreign URL
	// and skip the account check.
	for _, alias := range []string{
		strings.Replace(link, "render.example", "RENDER.example.", 1),
		strings.Replace(link, "render.example", "render.example:443", 1),
		strings.Replace(link, "render.example", "127.0.0.1", 1),
		strings.Replace(link, "https://", "http://", 1),
	} {
		if got, ok, err := b.ResolveLink(alias); !ok || err != nil || got != key {
			t.Errorf("ResolveLink(%q) = %q, %v, %v; want %q, ours, valid", alias, got, ok, err, key)
		}
	}
	// A bad signature is ours only on our own origin, however spelled.
	if _, ok, err := b.ResolveLink(strings.Replace(forged, "render.example", "Render.Example:443", 1)); !ok || !errors.Is(err, storage.ErrBadSignature) {
		t.Errorf("forged link on our origin spelled differently: %v, %v; want ours, ErrBadSignature", ok, err)
	}
	for _, foreign := range []string{
		strings.Replace(forged, "render.example", "other.example", 1),
		strings.Replace(link, "/api/storage/", "/storage/", 1),
		"https://render.example/api/commands",
		"not a url \x00",
	} {
		if _, ok, _ := b.ResolveLink(foreign); ok {
			t.Errorf("ResolveLink(%q) says it is ours", foreign)
		}
	}
}
