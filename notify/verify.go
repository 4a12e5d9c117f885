package notify

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTimestampTolerance is how far a Standard Webhooks timestamp may
// be from the receiver's clock before Verify rejects the delivery as a
// possible replay.
const DefaultTimestampTolerance = 5 * time.Minute

// Errors from Verify, for errors.Is.
var (
	// ErrNoSignature: the request carries neither signature.
	ErrNoSignature = errors.New("notify: no webhook signature header")
	// ErrBadSignature: a signature is present but does not match.
	ErrBadSignature = errors.New("notify: webhook signature does not match")
	// ErrStaleTimestamp: the Standard Webhooks timestamp is missing,
	// malformed or outside the tolerance.
	ErrStaleTimestamp = errors.New("notify: webhook timestamp is missing or too far from now")
)

// Verify checks a delivery a receiver got: the exact body bytes and the
// request headers. When the Standard Webhooks headers are present it checks
// webhook-signature, and rejects a webhook-timestamp more than
// DefaultTimestampTolerance from now; otherwise it checks
// X-Webhook-Signature. Comparisons are constant-time. now is the
// receiver's clock, usually time.Now().
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	if header.Get(HeaderStandardSignature) != "" {
		return VerifyStandard(secret, header, body, now, DefaultTimestampTolerance)
	}
	if sig := header.Get(HeaderSignature); sig != "" {
		return VerifySignature(secret, body, sig)
	}
	return ErrNoSignature
}

// VerifySignature checks an X-Webhook-Signature value (hex HMAC-SHA256 of
// body) in constant time.
func VerifySignature(secret string, body []byte, signature string) error {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(Signature(secret, body))
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	return nil
}

// VerifyStandard checks the Standard Webhooks headers: webhook-id,
// webhook-timestamp (within tolerance of now) and webhook-signature, which
// may list several space-separated "v1,<base64>" signatures (during a
// secret rotation); one match is enough.
func VerifyStandard(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id := header.Get(HeaderID)
	ts, err := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64)
	if err != nil || id == "" {
		return ErrStaleTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStaleTimestamp
	}
	want := standardMAC(StandardKey(secret), id, ts, body)
	for _, sig := range strings.Fields(header.Get(HeaderStandardSignature)) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}
