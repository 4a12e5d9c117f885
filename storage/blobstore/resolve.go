package blobstore

import (
	"context"
	"net/url"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/openrender/openrender/storage"
)

// probeKey is signed once to learn where a cloud bucket's presigned URLs
// point; it need not exist.
const probeKey = "openrender-link-probe"

// ResolveLink implements storage.LinkResolver. A local bucket's links are
// recognised by PublicURL + storage.LinkPrefix and checked with the
// Signer. A cloud bucket's are recognised by the scheme, host and path
// prefix of its own presigned URLs (virtual-host or path style, whichever
// the bucket uses); their signatures are not checked here.
func (b *Bucket) ResolveLink(rawURL string) (string, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", false, nil
	}
	if b.local {
		base, err := url.Parse(b.opts.PublicURL + storage.LinkPrefix)
		if err != nil {
			return "", false, nil
		}
		key, ok := under(u, base)
		if !ok {
			return "", false, nil
		}
		return key, true, b.opts.Signer.Verify(key, u.Query())
	}
	b.cloudPrefixOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		signed, err := b.bucket.SignedURL(ctx, probeKey, &blob.SignedURLOptions{Expiry: time.Hour})
		if err != nil {
			return // the driver can't sign: no link of ours to recognise
		}
		p, err := url.Parse(signed)
		if err != nil || !strings.HasSuffix(p.EscapedPath(), "/"+probeKey) {
			return
		}
		prefix := *p
		prefix.RawQuery = ""
		prefix.RawPath = ""
		prefix.Path = strings.TrimSuffix(p.Path, probeKey)
		b.cloudPrefix = &prefix
	})
	if b.cloudPrefix == nil {
		return "", false, nil
	}
	key, ok := under(u, b.cloudPrefix)
	return key, ok, nil
}

// under reports whether u lies below base (same scheme and host, path
// starting with base's), and the unescaped rest of its path.
func under(u, base *url.URL) (string, bool) {
	if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) || u.User != nil {
		return "", false
	}
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
