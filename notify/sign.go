package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook delivery.
const (
	// HeaderSignature carries the RenderIO-compatible signature: the hex
	// HMAC-SHA256 of the exact body, keyed by the secret.
	HeaderSignature = "X-Webhook-Signature"
	// HeaderID, HeaderTimestamp and HeaderStandardSignature are the
	// Standard Webhooks headers (https://www.standardwebhooks.com): the
	// event id (the same on every attempt), the attempt's Unix time in
	// seconds, and "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
	HeaderID                = "webhook-id"
	HeaderTimestamp         = "webhook-timestamp"
	HeaderStandardSignature = "webhook-signature"
	// UserAgent is sent with every delivery.
	UserAgent = "OpenRender-Webhook/1.0"
)

// standardSecretPrefix marks a secret in the Standard Webhooks form:
// "whsec_" then the key in base64.
const standardSecretPrefix = "whsec_"

// Signature returns the X-Webhook-Signature value for body: the hex
// HMAC-SHA256 of body keyed by the secret's bytes, exactly as RenderIO's
// receivers compute it.
func Signature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// StandardSignature returns the webhook-signature value for one attempt:
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body". The key is
// StandardKey(secret).
func StandardSignature(secret, id string, timestamp time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(StandardKey(secret), id, timestamp.Unix(), body))
}

// StandardKey is the HMAC key of the Standard Webhooks signature. A secret
// in the Standard Webhooks form ("whsec_" then base64) is decoded, as the
// Standard Webhooks libraries expect; any other secret is used as its bytes,
// as the X-Webhook-Signature scheme does.
func StandardKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, standardSecretPrefix); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
}

func standardMAC(key []byte, id string, unix int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(unix, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}
