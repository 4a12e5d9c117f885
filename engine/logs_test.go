package engine_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// recordingHandler keeps every record's attributes, logger-level ones
// included.
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]map[string]string
	attrs   []slog.Attr
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, m)
	return nil
}

func (h recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}

func (h recordingHandler) WithGroup(string) slog.Handler { return h }

// Every log line about a command carries its command_id and its
// account_id, through a successful run, a failed one and a cancel.
func TestCommandLogLinesCarryCommandAndAccount(t *testing.T) {
	var (
		mu      sync.Mutex
		records []map[string]string
	)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{
		Logger: slog.New(recordingHandler{mu: &mu, records: &records}),
	}})
	ok := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=0.5:size=160x120:rate=10 {{out_video}}",
	})
	bad := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=0.5:size=160x120:rate=10 -c:v nosuch {{out_video}}",
	})
	long := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=60:size=160x120:rate=10 {{out_video}}",
	})
	if c := env.Wait(t, ok.ID, 60*time.Second); c.Status != store.StatusSuccess {
		t.Fatalf("command %s: %s", ok.ID, c.Status)
	}
	if c := env.Wait(t, bad.ID, 60*time.Second); c.Status != store.StatusFailed {
		t.Fatalf("command %s: %s", bad.ID, c.Status)
	}
	waitForFFmpeg(t, long.ID)
	if _, err := env.Engine.Cancel(context.Background(), env.Account.ID, long.ID); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	about := 0
	for _, r := range records {
		id, ok := r["command_id"]
		if !ok {
			continue
		}
		about++
		if r["account_id"] != env.Account.ID {
			t.Errorf("log line %q about command %s has account_id %q, want %s", r["msg"], id, r["account_id"], env.Account.ID)
		}
	}
	if about < 6 {
		t.Errorf("only %d log lines name a command; the test saw too little", about)
	}
}
