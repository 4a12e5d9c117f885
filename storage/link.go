package storage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// LinkPrefix is the path under which the engine's HTTP handler serves
// signed links to local buckets.
const LinkPrefix = "/storage/"

// Errors from LinkSigner.Verify. Both answer 403: a client can't tell a
// forged link from an expired one, and doesn't need to.
var (
	ErrBadSignature = errors.New("storage: link signature does not match")
	ErrLinkExpired  = errors.New("storage: link has expired")
)

// LinkSigner signs and checks links to objects in local buckets. Every
// engine process that serves the same bucket must share its key.
type LinkSigner struct {
	key []byte
	now func() time.Time
}

// NewLinkSigner returns a signer using key (at least 32 random bytes).
func NewLinkSigner(key []byte) (*LinkSigner, error) {
	if len(key) < 32 {
		return nil, errors.New("storage: the link signing key must be at least 32 bytes")
	}
	return &LinkSigner{key: append([]byte(nil), key...), now: time.Now}, nil
}

// Sign returns the path and query of a link to key valid until expires:
// LinkPrefix + escaped key + "?expires=<unix>&signature=<mac>". The
// signature comes last so that any change to the link breaks it.
func (s *LinkSigner) Sign(key string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return LinkPrefix + escapeKey(key) + "?expires=" + exp + "&signature=" + s.mac(key, exp)
}

// Verify checks a link's key (already unescaped from the path) and query.
func (s *LinkSigner) Verify(key string, query url.Values) error {
	exp := query.Get("expires")
	sig := query.Get("signature")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sig == "" {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(key, exp))) {
		return ErrBadSignature
	}
	if !s.now().Before(time.Unix(unix, 0)) {
		return ErrLinkExpired
	}
	return nil
}

func (s *LinkSigner) mac(key, expires string) string {
	m := hmac.New(sha256.New, s.key)
	// A separator that can't occur in either part keeps ("a","1b") and
	// ("a1","b") from signing alike.
	m.Write([]byte("openrender-link\x00" + key + "\x00" + expires))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// escapeKey path-escapes each segment of a key, keeping its slashes.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
