package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/notify"
)

// A real engine delivers a finished command to the receiver, which
// verifies and handles it once; a forged delivery is refused, and a signed
// repeat of the same event is acknowledged without being handled again.
func TestReceiverEndToEnd(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	srv := httptest.NewServer(httpapi.New(env.Engine, httpapi.Config{}))
	defer srv.Close()

	handled := make(chan delivery, 4)
	rc := newReceiver(secret, slog.New(slog.NewTextHandler(io.Discard, nil)), func(d delivery) { handled <- d })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hookc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", rc, func(u string) { hookc <- u }) }()
	hookURL := <-hookc

	c := client.New(srv.URL, env.Key, client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond))
	if err := c.PutWebhookConfig(ctx, hookURL, secret); err != nil {
		t.Fatal(err)
	}
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=0.2 {{out_a}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-handled:
		if d.Data.CommandID != id || d.Data.Status != "SUCCESS" || d.Data.OutputFiles["out_a"].FileName != "a.wav" || d.Timestamp == 0 {
			t.Fatalf("handled delivery: %+v", d)
		}
	case <-time.After(time.Minute):
		t.Fatal("no verified delivery within a minute")
	}

	post := func(body []byte, h http.Header) int {
		req, _ := http.NewRequest("POST", hookURL, bytes.NewReader(body))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := []byte(fmt.Sprintf(`{"data":{"command_id":%q,"status":"SUCCESS"},"timestamp":1}`, id))
	signed := func(key, eventID string) http.Header {
		now := time.Now()
		h := http.Header{}
		h.Set(notify.HeaderSignature, notify.Signature(key, body))
		h.Set(notify.HeaderID, eventID)
		h.Set(notify.HeaderTimestamp, fmt.Sprint(now.Unix()))
		h.Set(notify.HeaderStandardSignature, notify.StandardSignature(key, eventID, now, body))
		return h
	}
	if code := post(body, signed("whsec_forged", "evt_x")); code != http.StatusUnauthorized {
		t.Errorf("a forged delivery: %d, want 401", code)
	}
	if code := post(body, http.Header{}); code != http.StatusUnauthorized {
		t.Errorf("an unsigned delivery: %d, want 401", code)
	}
	if code := post(body, signed(secret, "evt_y")); code != http.StatusNoContent {
		t.Errorf("a signed delivery: %d", code)
	}
	if code := post(body, signed(secret, "evt_y")); code != http.StatusNoContent {
		t.Errorf("a signed repeat: %d", code)
	}
	if d := <-handled; d.Data.CommandID != id {
		t.Errorf("handled %+v", d)
	}
	select {
	case d := <-handled:
		t.Errorf("a repeat or a forgery was handled: %+v", d)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
