package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
)

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	clock := testutil.NewClock(time.Now())
	s := newServerWith(t, testutil.EnvOptions{NoStart: true}, httpapi.Config{RateLimitPerMinute: 6, RateLimitBurst: 2, Now: clock.Now})
	otherKey := engine.NewAPIKey()
	if _, err := engine.AddAPIKey(context.Background(), s.Store, "other", otherKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"output_files": map[string]any{"out_video": "a.mp4"}, "ffmpeg_command": "-f lavfi -i testsrc=duration=1 {{out_video}}"})
	post := func(key string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", s.URL+"/api/v1/run-ffmpeg-command", bytes.NewReader(body))
		req.Header.Set("X-API-KEY", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}

	for i := range 2 {
		if resp, data := post(s.Key); resp.StatusCode != 200 {
			t.Fatalf("POST %d within the burst: %d %s", i+1, resp.StatusCode, data)
		}
	}
	resp, data := post(s.Key)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("POST over the burst: %d %s, want 429", resp.StatusCode, data)
	}
	var e api.Error
	if err := json.Unmarshal(data, &e); err != nil || e.Error != "RATE_LIMITED" || e.Message == "" {
		t.Errorf("429 body %s: want the contract's RATE_LIMITED error", data)
	}
	// 6 per minute: one token every 10 s.
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra != 10 {
		t.Errorf("Retry-After = %q, want 10", resp.Header.Get("Retry-After"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	// Reads are not limited; other accounts have their own bucket.
	var page api.CommandList
	if code := s.call(t, "GET", "/api/v1/commands", s.Key, nil, &page); code != 200 {
		t.Errorf("GET while limited: %d", code)
	}
	if resp, data := post(otherKey); resp.StatusCode != 200 {
		t.Errorf("another account's POST: %d %s", resp.StatusCode, data)
	}

	// After Retry-After, one more request fits, and only one.
	clock.Add(4 * time.Second)
	resp, _ = post(s.Key)
	if ra := resp.Header.Get("Retry-After"); resp.StatusCode != 429 || ra != "6" {
		t.Errorf("4 s later: %d, Retry-After %q; want 429 and 6", resp.StatusCode, ra)
	}
	clock.Add(6 * time.Second)
	if resp, data := post(s.Key); resp.StatusCode != 200 {
		t.Errorf("after Retry-After: %d %s", resp.StatusCode, data)
	}
	if resp, _ := post(s.Key); resp.StatusCode != 429 {
		t.Errorf("right after: %d, want 429", resp.StatusCode)
	}
}

func TestRateLimitCanBeTurnedOff(t *testing.T) {
	s := newServerWith(t, testutil.EnvOptions{NoStart: true}, httpapi.Config{RateLimitPerMinute: -1})
	for i := range 3 * httpapi.DefaultRateLimitBurst {
		var out map[string]any
		code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
			"output_files": map[string]any{"out_video": "a.mp4"}, "ffmpeg_command": "-f lavfi -i testsrc=duration=1 {{out_video}}"}, &out)
		if code != 200 {
			t.Fatalf("POST %d with the limit off: %d %v", i+1, code, out)
		}
	}
}
