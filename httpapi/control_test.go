package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
)

func post(t *testing.T, s *server, path string, headers map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", s.Key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func slowCommand() map[string]any {
	return map[string]any{
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-re -f lavfi -i testsrc=duration=60:size=160x120:rate=10 {{out_video}}",
	}
}

func TestCancelEndpoint(t *testing.T) {
	testutil.RequireFFmpeg(t)
	s := newServer(t, testutil.EnvOptions{})
	var sub api.CommandID
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, slowCommand(), &sub); code != 200 {
		t.Fatalf("submit: %d", code)
	}
	waitForAPIStatus(t, s, sub.CommandID, "PROCESSING")
	var got map[string]any
	if code := s.call(t, "POST", "/api/v1/commands/"+sub.CommandID+"/cancel", s.Key, nil, &got); code != 200 {
		t.Fatalf("cancel: %d %v", code, got)
	}
	if got["status"] != "FAILED" || got["error_status"] != "CANCELLED" {
		t.Errorf("cancel answered %v %v, want FAILED CANCELLED", got["status"], got["error_status"])
	}
	var e api.Error
	if code := s.call(t, "POST", "/api/v1/commands/"+sub.CommandID+"/cancel", s.Key, nil, &e); code != 409 || e.Error != api.CodeConflict || e.Message == "" {
		t.Errorf("cancel of a finished command: %d %+v, want 409 CONFLICT", code, e)
	}
	if code := s.call(t, "POST", "/api/v1/commands/00000000-0000-0000-0000-000000000000/cancel", s.Key, nil, &e); code != 404 || e.Error != api.CodeNotFound {
		t.Errorf("cancel of an unknown command: %d %+v", code, e)
	}
}

// The SSE stream of a command: its status now, PROCESSING, progress events
// and the final state, then the stream ends.
func TestCommandEventStream(t *testing.T) {
	in := testutil.MakeClip(t, mediaDir, "in6.mp4", testutil.Clip{Seconds: 6, Size: "160x120", Rate: 10})
	files := testutil.ServeDir(t, filepath.Dir(in))
	s := newServer(t, testutil.EnvOptions{})
	var sub api.CommandID
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
		"input_files":    map[string]string{"in_video": files.URL + "/in6.mp4"},
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-re -i {{in_video}} -c:v libx264 -preset ultrafast {{out_video}}",
	}, &sub); code != 200 {
		t.Fatalf("submit: %d", code)
	}
	statuses, progress := readEventStream(t, s.URL, s.Key, sub.CommandID)
	checkEventStream(t, statuses, progress)
}

// A live event stream served by an engine process that runs no commands
// follows a command that another engine process, sharing the store, runs:
// PROCESSING, rising progress, SUCCESS, then the end of the stream.
func TestCommandEventStreamThroughAnotherProcess(t *testing.T) {
	in := testutil.MakeClip(t, mediaDir, "in6.mp4", testutil.Clip{Seconds: 6, Size: "160x120", Rate: 10})
	files := testutil.ServeDir(t, filepath.Dir(in))
	apiNode := newServer(t, testutil.EnvOptions{NoStart: true}) // serves HTTP, runs nothing
	worker := testutil.NewEnv(t, testutil.EnvOptions{Dir: apiNode.Dir})
	cmd, err := worker.Engine.Submit(context.Background(), worker.Account.ID, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_video": files.URL + "/in6.mp4"},
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -i {{in_video}} -c:v libx264 -preset ultrafast {{out_video}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	statuses, progress := readEventStream(t, apiNode.URL, apiNode.Key, cmd.ID)
	checkEventStream(t, statuses, progress)
}

// readEventStream reads a command's event stream to its end and returns
// the statuses of its status events and every progress value it carried.
func readEventStream(t *testing.T, base, key, id string) (statuses []string, progress []float64) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/commands/"+id+"/events", nil)
	req.Header.Set("X-API-KEY", key)
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Timeout: 90 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() { // ends at EOF: the server closed the stream
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("event data %q: %v", line, err)
			}
			if event == "status" {
				statuses = append(statuses, d["status"].(string))
			}
			if p, ok := d["progress"].(float64); ok {
				progress = append(progress, p)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return statuses, progress
}

// checkEventStream: PROCESSING was seen, SUCCESS came last, and progress
// came several times and never went back.
func checkEventStream(t *testing.T, statuses []string, progress []float64) {
	t.Helper()
	if len(statuses) == 0 || statuses[len(statuses)-1] != "SUCCESS" {
		t.Fatalf("status events %v, want SUCCESS last", statuses)
	}
	if !contains(statuses, "PROCESSING") {
		t.Errorf("status events %v: no PROCESSING", statuses)
	}
	if len(progress) < 2 {
		t.Errorf("progress events %v: want several over a 6 s run", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] < progress[i-1] {
			t.Errorf("progress went back: %v", progress)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func waitForAPIStatus(t *testing.T, s *server, id, status string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var c map[string]any
		s.call(t, "GET", "/api/v1/commands/"+id, s.Key, nil, &c)
		if c["status"] == status {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("command %s never reached %s", id, status)
}

// Concurrent identical POSTs with one Idempotency-Key create one command;
// every one of them gets its answer; another body with the key is a 422.
func TestIdempotentSubmits(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	body, _ := json.Marshal(map[string]any{
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-f lavfi -i testsrc=duration=1 {{out_video}}",
	})
	const n = 8
	type result struct {
		code     int
		id       string
		replayed bool
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, hdr, b := post(t, s, "/api/v1/run-ffmpeg-command", map[string]string{"Idempotency-Key": "order-42"}, body)
			var c api.CommandID
			json.Unmarshal(b, &c)
			results[i] = result{code, c.CommandID, hdr.Get("Idempotent-Replayed") == "true"}
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	replays := 0
	for _, r := range results {
		if r.code != 200 {
			t.Errorf("a concurrent submit answered %d", r.code)
		}
		ids[r.id] = true
		if r.replayed {
			replays++
		}
	}
	if len(ids) != 1 || replays != n-1 {
		t.Errorf("%d concurrent submits with one key: ids %v, %d replays; want one id and %d replays", n, ids, replays, n-1)
	}
	var list api.CommandList
	s.call(t, "GET", "/api/v1/commands?limit=100", s.Key, nil, &list)
	if len(list.Commands) != 1 {
		t.Errorf("%d commands created, want 1", len(list.Commands))
	}

	// The same key with another body: 422 naming the header.
	other := bytes.Replace(body, []byte("duration=1"), []byte("duration=2"), 1)
	code, _, b := post(t, s, "/api/v1/run-ffmpeg-command", map[string]string{"Idempotency-Key": "order-42"}, other)
	var e api.Error
	json.Unmarshal(b, &e)
	if code != 422 || e.Error != api.CodeValidationError || len(e.Detail) != 1 || joinLoc(e.Detail[0].Loc) != "header/Idempotency-Key" {
		t.Errorf("same key, other body: %d %s", code, b)
	}
	// A 422 is replayed too, as first answered; and keys are per account.
	bad := []byte(`{"ffmpeg_command": "-i {{in_missing}} {{out_x}}"}`)
	c1, _, b1 := post(t, s, "/api/v1/run-ffmpeg-command", map[string]string{"Idempotency-Key": "bad-1"}, bad)
	c2, h2, b2 := post(t, s, "/api/v1/run-ffmpeg-command", map[string]string{"Idempotency-Key": "bad-1"}, bad)
	if c1 != 422 || c2 != 422 || !bytes.Equal(b1, b2) || h2.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a 422 replayed: %d %s / %d %s", c1, b1, c2, b2)
	}
	// A key that is too long is refused.
	code, _, _ = post(t, s, "/api/v1/run-ffmpeg-command", map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, body)
	if code != 422 {
		t.Errorf("a 256-byte key: %d, want 422", code)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	testutil.RequireFFmpeg(t)
	s := newServer(t, testutil.EnvOptions{})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %v", path, resp.StatusCode, body)
		}
		if path == "/readyz" {
			checks, _ := body["checks"].(map[string]any)
			for _, c := range []string{"store", "storage", "sandbox"} {
				if chk, _ := checks[c].(map[string]any); chk["ok"] != true {
					t.Errorf("readyz check %s: %v", c, checks[c])
				}
			}
		}
	}
	// One request to count, whose webhook is delivered at the first attempt.
	delivered := make(chan struct{}, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case delivered <- struct{}{}:
		default:
		}
	}))
	defer receiver.Close()
	var sub api.CommandID
	s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-f lavfi -i testsrc=duration=0.5:size=160x120:rate=10 {{out_video}}",
		"webhook_url":    receiver.URL,
	}, &sub)
	s.Wait(t, sub.CommandID, 60*time.Second)
	s.call(t, "GET", "/api/v1/commands/"+sub.CommandID, s.Key, nil, nil)
	select {
	case <-delivered:
	case <-time.After(30 * time.Second):
		t.Fatal("the webhook never arrived")
	}
	// The attempt is counted once the sender records it, just after the
	// receiver answered.
	var m string
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m = string(b)
		if strings.Contains(m, `openrender_webhook_attempts_total{outcome="success"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`openrender_http_requests_total{code="200",method="GET",route="/api/v1/commands/{id}"} 1`,
		`openrender_http_requests_total{code="200",method="POST",route="/api/v1/run-ffmpeg-command"} 1`,
		`openrender_commands_finished_total{error_status="",status="SUCCESS"} 1`,
		`openrender_commands{status="QUEUED"} 0`,
		`openrender_queue_depth 0`,
		`openrender_ffmpeg_seconds_count 1`,
		`openrender_webhook_attempts_total{outcome="success"} 1`,
		`openrender_webhook_attempts_total{outcome="retry"} 0`,
		`openrender_webhook_attempts_total{outcome="failed"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(m)
	}
}

// Commands waiting for a worker show in the queue depth and in the
// commands-by-status gauge.
func TestMetricsCountWaitingCommands(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true}) // no workers: submitted commands wait
	for range 2 {
		body, _ := json.Marshal(slowCommand())
		if code, _, b := post(t, s, "/api/v1/run-ffmpeg-command", nil, body); code != 200 {
			t.Fatalf("submit: %d %s", code, b)
		}
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"openrender_queue_depth 2", `openrender_commands{status="QUEUED"} 2`, `openrender_commands{status="PROCESSING"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// /readyz answers 503 and names the check that fails when the store can't
// be used, while /healthz (liveness) still answers 200.
func TestReadyzNamesAFailingCheck(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	s.Store.Close() // the state store is gone
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status string `json:"status"`
		Checks map[string]struct {
			OK bool `json:"ok"`
		} `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Checks["store"].OK || !body.Checks["storage"].OK {
		t.Errorf("/readyz with the store closed: %d %+v; want 503 with the store check failing", resp.StatusCode, body)
	}
	if resp, err := http.Get(s.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz with the store closed: %v %v; want 200", resp, err)
	} else {
		resp.Body.Close()
	}
}
