package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// BenchmarkSubmit measures accepted commands per second: POST
// /api/v1/run-ffmpeg-command over loopback HTTP (keep-alive clients, 32 in
// flight) through auth, validation and the SQLite insert (WAL,
// synchronous=FULL: every 200 is a command on disk). Workers are not started,
// so the figure is the API's alone.
//
// Run: go test ./httpapi -run '^$' -bench Submit -benchtime 20000x
func BenchmarkSubmit(b *testing.B) {
	ts := httptest.NewUnstartedServer(nil)
	env := testutil.NewEnv(b, testutil.EnvOptions{NoStart: true, PublicURL: "http://" + ts.Listener.Addr().String()})
	// The figure is the API's own throughput: no rate limit.
	ts.Config.Handler = httpapi.New(env.Engine, httpapi.Config{RateLimitPerMinute: -1})
	ts.Start()
	defer ts.Close()
	body, _ := json.Marshal(map[string]any{
		"input_files":    map[string]string{"in_video": "https://media.example.com/in.mp4"},
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "ffmpeg -i {{in_video}} -vf scale=1280:720 -c:v libx264 -preset veryfast -c:a aac {{out_video}}",
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var failed atomic.Int64
	b.SetParallelism(16) // 16 × GOMAXPROCS(2) = 32 requests in flight
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", ts.URL+"/api/v1/run-ffmpeg-command", bytes.NewReader(body))
			req.Header.Set("X-API-KEY", env.Key)
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d submits failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commands/s")

	// Every accepted command is in the store.
	var total int
	for offset := 0; ; offset += 100 {
		page, err := env.Store.ListCommands(context.Background(), store.CommandQuery{AccountID: env.Account.ID, Limit: 100, Offset: offset})
		if err != nil {
			b.Fatal(err)
		}
		total += len(page)
		if len(page) < 100 {
			break
		}
	}
	if total < b.N {
		b.Fatalf("%d submits answered 200 but only %d commands are stored", b.N, total)
	}
}
