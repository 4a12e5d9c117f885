package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/client"
)

// By default WaitForCommand polls at once, then waits 1 s (the contract's
// recommendation), then longer and longer. A server that keeps answering
// PROCESSING sees exactly that.
func TestWaitForCommandBackoffStartsAtOneSecond(t *testing.T) {
	var (
		mu    sync.Mutex
		polls []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		polls = append(polls, time.Now())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"command_id": "c1", "status": "PROCESSING"})
	}))
	defer srv.Close()
	c := client.New(srv.URL, "key", client.WithoutEvents())
	ctx, cancel := context.WithTimeout(context.Background(), 3800*time.Millisecond)
	defer cancel()
	if _, err := c.WaitForCommand(ctx, "c1"); err == nil {
		t.Fatal("WaitForCommand returned before its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	// Polls at 0, 1 s, 2.5 s (1 s, then 1.5 s). Only lower bounds are
	// checked, so a loaded machine's late wake-ups can't fail the test.
	if len(polls) < 2 || len(polls) > 3 {
		t.Fatalf("%d polls in 3.8 s; want at once, after 1 s, after 1.5 s more", len(polls))
	}
	if first := polls[1].Sub(polls[0]); first < time.Second {
		t.Errorf("first wait %v; want 1 s", first)
	}
	if len(polls) == 3 {
		if second := polls[2].Sub(polls[1]); second < 1500*time.Millisecond {
			t.Errorf("second wait %v; want 1.5 s, longer than the first", second)
		}
	}
}
