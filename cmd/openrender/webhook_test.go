package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
)

// hookReceiver answers the first attempt of each event 500 and later ones
// 200, and records every request.
type hookReceiver struct {
	mu       sync.Mutex
	attempts map[string][]time.Time // by webhook-id
	total    int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	id := r.Header.Get("webhook-id")
	h.attempts[id] = append(h.attempts[id], time.Now())
	h.total++
	first := len(h.attempts[id]) == 1
	h.mu.Unlock()
	if first {
		w.WriteHeader(500)
		return
	}
	w.WriteHeader(200)
}

func (h *hookReceiver) snapshot() (map[string][]time.Time, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]time.Time, len(h.attempts))
	for k, v := range h.attempts {
		out[k] = append([]time.Time(nil), v...)
	}
	return out, h.total
}

// An engine killed with retries pending loses none and repeats none: the
// next engine on the same data dir makes each pending attempt exactly once,
// when the schedule says.
func TestKilledEngineKeepsPendingWebhooks(t *testing.T) {
	const retryAfter = 3 * time.Second
	recv := &hookReceiver{attempts: map[string][]time.Time{}}
	hook := httptest.NewServer(recv)
	defer hook.Close()

	dataDir := t.TempDir()
	key := engine.NewAPIKey()
	args := []string{"--webhook-schedule", "0," + retryAfter.String() + ",1s", "--webhook-timeout", "2s"}
	s := startServer(t, serverOptions{dataDir: dataDir, key: key, args: args})
	if code, body := s.do("PUT", "/api/v1/webhook-config", key, map[string]any{"url": hook.URL + "/hook", "secret": "s"}); code != 200 {
		t.Fatalf("PUT webhook-config: %d %s", code, body)
	}
	const n = 3
	for i := 0; i < n; i++ {
		s.submit(tinyCommand())
	}
	// Wait until every event's first attempt failed and was recorded.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := s.do("GET", "/api/v1/webhook-deliveries", key, nil)
		var page struct {
			Deliveries []struct {
				Status string `json:"status"`
			} `json:"deliveries"`
		}
		json.Unmarshal(body, &page)
		failed := 0
		for _, d := range page.Deliveries {
			if d.Status == "FAILED" {
				failed++
			}
		}
		if code == 200 && failed == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first attempts not all recorded: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	if _, total := recv.snapshot(); total != n {
		t.Fatalf("receiver got %d requests before the kill, want %d", total, n)
	}

	s2 := startServer(t, serverOptions{dataDir: dataDir, key: key, args: args})
	deadline = time.Now().Add(30 * time.Second)
	for {
		if _, total := recv.snapshot(); total >= 2*n {
			break
		}
		if time.Now().After(deadline) {
			_, total := recv.snapshot()
			t.Fatalf("after the restart the receiver got %d requests in all, want %d", total, 2*n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // anything extra would come now
	got, total := recv.snapshot()
	if total != 2*n || len(got) != n {
		t.Fatalf("receiver got %d requests for %d events, want exactly 2 for each of %d", total, len(got), n)
	}
	for id, at := range got {
		// The retry is due retryAfter (minus 10% jitter) after the failure.
		if gap := at[1].Sub(at[0]); gap < retryAfter*9/10 {
			t.Errorf("event %s: retried %v after the failure, before the schedule's %v", id, gap, retryAfter)
		}
	}
	s2.stopOK()
}
