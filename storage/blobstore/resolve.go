package blobstore

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/openrender/openrender/storage"
)

// probeKey is signed once to learn where a cloud bucket's presigned URLs
// point; it need not exist.
const probeKey = "openrender-link-probe"

// ResolveLink implements storage.LinkResolver.
//
// A local bucket's link is recognised by its path (PublicURL's path, then
// storage.LinkPrefix) and its signature, whatever its host is called: the
// same server answers to "localhost", "127.0.0.1", a trailing-dot name or
// an explicit default port, and a link this bucket signed is this bucket's
// however its host is spelled (else another account could pass one off as
// a foreign URL and have it downloaded, skipping the account check). A
// link with a bad signature is ours only on PublicURL's own origin;
// elsewhere it is someone else's URL that happens to look alike.
//
// A cloud bucket's are recognised by the scheme, host and path prefix of
// its own presigned URLs (virtual-host or path style, whichever the bucket
// uses); their signatures are not checked here.
func (b *Bucket) ResolveLink(rawURL string) (string, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.User != nil {
		return "", false, nil
	}
	if b.local {
		base, err := url.Parse(b.opts.PublicURL + storage.LinkPrefix)
		if err != nil {
			return "", false, nil
		}
		key, ok := underPath(u, base)
		if !ok {
			return "", false, nil
		}
		err = b.opts.Signer.Verify(key, u.Query())
		if err == nil || errors.Is(err, storage.ErrLinkExpired) || sameOrigin(u, base) {
			return key, true, err
		}
		return "", false, nil
	}
	prefix := b.cloudLinkPrefix()
	if prefix == nil {
		return "", false, nil
	}
	if !sameOrigin(u, prefix) {
		return "", false, nil
	}
	key, ok := underPath(u, prefix)
	return key, ok, nil
}

// cloudLinkPrefix returns where the bucket's presigned URLs point, probing
// at most once a minute until a probe succeeds.
func (b *Bucket) cloudLinkPrefix() *url.URL {
	b.cloudMu.Lock()
	defer b.cloudMu.Unlock()
	if b.cloudPrefix != nil || time.Since(b.cloudProbeAt) < time.Minute {
		return b.cloudPrefix
	}
	b.cloudProbeAt = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	signed, err := b.bucket.SignedURL(ctx, probeKey, &blob.SignedURLOptions{Expiry: time.Hour})
	if err != nil {
		return nil // the driver can't sign (yet): no link of ours to recognise
	}
	p, err := url.Parse(signed)
	if err != nil || !strings.HasSuffix(p.EscapedPath(), "/"+probeKey) {
		return nil
	}
	prefix := *p
	prefix.RawQuery = ""
	prefix.RawPath = ""
	prefix.Path = strings.TrimSuffix(p.Path, probeKey)
	b.cloudPrefix = &prefix
	return b.cloudPrefix
}

// underPath reports whether u's path lies below base's, and the unescaped
// rest of it.
func underPath(u, base *url.URL) (string, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), base.EscapedPath())
	if !ok || rest == "" {
		return "", false
	}
	key, err := url.PathUnescape(rest)
	if err != nil {
		return "", false
	}
	return key, true
}

// sameOrigin compares scheme and host as a browser would: case-blind,
// without a trailing dot on the name, and with default ports made explicit.
func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) && origin(u) == origin(base)
}

func origin(u *url.URL) string {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return host + ":" + port
}
