package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"path"
	"strconv"
	"strings"
	"time"
)

// DirLinkPrefix is the path under which the engine's HTTP handler serves
// directory links: LinkPrefix + "d/".
//
// A set of files (an HLS playlist and its segments) is stored under one
// directory of keys, and a player fetches the segments by the relative
// names the playlist holds. A link signed in its query (Sign) does not
// survive that: "seg0.ts" resolved against ".../stream.m3u8?expires=…"
// loses the query. A directory link carries its expiry and signature in the
// path instead, before the key: /storage/d/<expires>/<signature>/<key>, so
// a relative name resolves to a link of the same directory with the same,
// still valid, signature. The signature covers the key's directory, so it
// opens every object directly in that directory and nothing else.
const DirLinkPrefix = LinkPrefix + "d/"

// SignDir returns the path of a directory link to key, valid until expires
// for every object in key's directory (path.Dir(key)).
func (s *LinkSigner) SignDir(key string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return DirLinkPrefix + exp + "/" + s.dirMAC(path.Dir(key), exp) + "/" + escapeKey(key)
}

// VerifyDir checks a directory link's expiry and signature for key (already
// unescaped from the path).
func (s *LinkSigner) VerifyDir(key, expires, signature string) error {
	unix, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || signature == "" || !canonicalMemberKey(key) {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(signature), []byte(s.dirMAC(path.Dir(key), expires))) {
		return ErrBadSignature
	}
	if !s.now().Before(time.Unix(unix, 0)) {
		return ErrLinkExpired
	}
	return nil
}

// canonicalMemberKey reports whether key names an object the way the
// engine stores one: a clean relative path whose last element is a name.
// The signature covers path.Dir(key), which cleans the directory part, so
// without this "dir/..", "dir/." or "dir//name" would verify for dir while
// naming something else (the parent, the directory itself) or a key the
// storage may read differently.
func canonicalMemberKey(key string) bool {
	if key == "" || path.Clean(key) != key || strings.HasPrefix(key, "/") {
		return false
	}
	if base := path.Base(key); base == "." || base == ".." {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] == 0x7f {
			return false
		}
	}
	return true
}

func (s *LinkSigner) dirMAC(dir, expires string) string {
	m := hmac.New(sha256.New, s.key)
	// Its own domain, so a file link's signature is never a directory's.
	m.Write([]byte("openrender-dir-link\x00" + dir + "\x00" + expires))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// DirLinker is implemented by storage whose links can open a whole
// directory of keys (local buckets, through the engine's handler). The
// engine uses it for the storage_url of a set of files, so that the
// relative links inside a playlist work without an API key.
type DirLinker interface {
	// DirURL returns a link to key through which every object in key's
	// directory can be fetched by its relative name until ttl has passed.
	// ok is false when this storage can't make one.
	DirURL(ctx context.Context, key string, ttl time.Duration) (link string, ok bool, err error)
}
