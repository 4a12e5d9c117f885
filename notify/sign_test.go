package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openrender/openrender/notify"
)

var (
	body   = []byte(`{"data":{"command_id":"c1","status":"SUCCESS"},"timestamp":1700000000000}`)
	sentAt = time.Unix(1_700_000_000, 0)
)

// headers builds the headers a delivery carries, as WebhookSender sets them.
func headers(secret, id string, at time.Time) http.Header {
	h := http.Header{}
	h.Set(notify.HeaderSignature, notify.Signature(secret, body))
	h.Set(notify.HeaderID, id)
	h.Set(notify.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(notify.HeaderStandardSignature, notify.StandardSignature(secret, id, at, body))
	return h
}

// The X-Webhook-Signature is what RenderIO's receivers compute: hex
// HMAC-SHA256 of the body, keyed by the secret's bytes.
func TestSignatureIsHexHMACOfTheBody(t *testing.T) {
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(body)
	if got, want := notify.Signature("s3cret", body), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Signature = %s, want %s", got, want)
	}
}

// The Standard Webhooks signature signs "id.timestamp.body"; a whsec_ secret
// is base64-decoded first, as the Standard Webhooks libraries do.
func TestStandardSignature(t *testing.T) {
	for _, tc := range []struct {
		secret string
		key    []byte
	}{
		{"plain secret", []byte("plain secret")},
		{"whsec_" + base64.StdEncoding.EncodeToString([]byte("raw key bytes")), []byte("raw key bytes")},
		{"whsec_not base64!", []byte("whsec_not base64!")},
	} {
		mac := hmac.New(sha256.New, tc.key)
		mac.Write([]byte("msg_1.1700000000."))
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if got := notify.StandardSignature(tc.secret, "msg_1", sentAt, body); got != want {
			t.Errorf("secret %q: got %s, want %s", tc.secret, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	now := sentAt.Add(time.Minute)
	good := headers("s3cret", "msg_1", sentAt)
	if err := notify.Verify("s3cret", good, body, now); err != nil {
		t.Fatalf("Verify of a good delivery: %v", err)
	}
	if err := notify.Verify("other", good, body, now); !errors.Is(err, notify.ErrBadSignature) {
		t.Fatalf("Verify with another secret: %v, want ErrBadSignature", err)
	}
	tampered := append([]byte{}, body...)
	tampered[len(tampered)-2] = '1'
	if err := notify.Verify("s3cret", good, tampered, now); !errors.Is(err, notify.ErrBadSignature) {
		t.Fatalf("Verify of a changed body: %v", err)
	}
	if err := notify.Verify("s3cret", good, body, sentAt.Add(6*time.Minute)); !errors.Is(err, notify.ErrStaleTimestamp) {
		t.Fatalf("Verify 6 minutes later: %v, want ErrStaleTimestamp", err)
	}
	if err := notify.Verify("s3cret", good, body, sentAt.Add(-6*time.Minute)); !errors.Is(err, notify.ErrStaleTimestamp) {
		t.Fatalf("Verify of a timestamp 6 minutes ahead: %v, want ErrStaleTimestamp", err)
	}
	// Only the RenderIO header: checked alone.
	legacy := http.Header{}
	legacy.Set(notify.HeaderSignature, good.Get(notify.HeaderSignature))
	if err := notify.Verify("s3cret", legacy, body, now); err != nil {
		t.Fatalf("Verify with X-Webhook-Signature only: %v", err)
	}
	if err := notify.Verify("other", legacy, body, now); !errors.Is(err, notify.ErrBadSignature) {
		t.Fatalf("Verify X-Webhook-Signature with another secret: %v", err)
	}
	legacy.Set(notify.HeaderSignature, "zz-not-hex")
	if err := notify.Verify("s3cret", legacy, body, now); !errors.Is(err, notify.ErrBadSignature) {
		t.Fatalf("Verify of a non-hex signature: %v", err)
	}
	if err := notify.Verify("s3cret", http.Header{}, body, now); !errors.Is(err, notify.ErrNoSignature) {
		t.Fatalf("Verify without signatures: %v, want ErrNoSignature", err)
	}
	// A replayed id with a forged timestamp fails: the timestamp is signed.
	replay := headers("s3cret", "msg_1", sentAt)
	replay.Set(notify.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if err := notify.Verify("s3cret", replay, body, now); !errors.Is(err, notify.ErrBadSignature) {
		t.Fatalf("Verify with a re-stamped timestamp: %v", err)
	}
	// During a secret rotation a sender may list several signatures.
	rotated := headers("new", "msg_1", sentAt)
	rotated.Set(notify.HeaderStandardSignature, "v1,AAAA "+rotated.Get(notify.HeaderStandardSignature))
	if err := notify.Verify("new", rotated, body, now); err != nil {
		t.Fatalf("Verify with two listed signatures: %v", err)
	}
}

func TestRetrySchedule(t *testing.T) {
	s := notify.DefaultRetrySchedule
	if s.Attempts() != 8 {
		t.Fatalf("default schedule has %d attempts, want 8", s.Attempts())
	}
	want := []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for i, w := range want {
		if d, ok := s.Delay(i+1, 0); !ok || d != w {
			t.Errorf("Delay(%d) = %v, %v; want %v", i+1, d, ok, w)
		}
	}
	if _, ok := s.Delay(9, 0); ok {
		t.Error("Delay(9) exists in an 8-attempt schedule")
	}
	if _, ok := s.Delay(0, 0); ok {
		t.Error("Delay(0) exists")
	}
	for i := 0; i < 1000; i++ {
		d, _ := s.Delay(3, 0.1)
		if d < 270*time.Second || d > 330*time.Second {
			t.Fatalf("Delay(3) with 10%% jitter = %v, want within 5 min ± 30 s", d)
		}
		if d, _ := s.Delay(1, 0.1); d != 0 {
			t.Fatalf("the first attempt got jitter: %v", d)
		}
	}
}
