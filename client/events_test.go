package client_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
)

// counted is a real engine and httpapi handler behind a handler that
// counts the requests WaitForCommand makes and can take the event stream
// away (as a RenderIO-compatible server or a refusing proxy would) or cut
// it after its first event (as a dropped connection would).
type counted struct {
	*testutil.Env
	URL            string
	gets, events   atomic.Int32
	noEvents, drop bool
}

func newCounted(t *testing.T, noEvents, drop bool) *counted {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	s := &counted{URL: "http://" + srv.Listener.Addr().String(), noEvents: noEvents, drop: drop}
	s.Env = testutil.NewEnv(t, testutil.EnvOptions{PublicURL: s.URL})
	api := httpapi.New(s.Env.Engine, httpapi.Config{})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/commands/") {
			if strings.HasSuffix(r.URL.Path, "/events") {
				s.events.Add(1)
				if s.noEvents {
					http.NotFound(w, r)
					return
				}
				if s.drop {
					w = &cutAfterFirstEvent{ResponseWriter: w}
				}
			} else {
				s.gets.Add(1)
			}
		}
		api.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// cutAfterFirstEvent fails every write after the stream's first event, so
// the handler ends the response early.
type cutAfterFirstEvent struct {
	http.ResponseWriter
	events int
}

func (w *cutAfterFirstEvent) Write(b []byte) (int, error) {
	if bytes.HasPrefix(b, []byte("event:")) {
		if w.events++; w.events > 1 {
			return 0, errors.New("connection cut")
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *cutAfterFirstEvent) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// realTimeTone takes about two seconds: long enough for progress events
// (-t bounds the output, so the engine can tell how far along it is).
var realTimeTone = client.RunRequest{
	OutputFiles:   map[string]string{"out_a": "a.wav"},
	FFmpegCommand: "-re -f lavfi -i sine=duration=2 -t 2 {{out_a}}",
}

// WaitForCommand follows the event stream: one request, no polling, and it
// sees the status changes and the progress in between.
func TestWaitForCommandFollowsEvents(t *testing.T) {
	s := newCounted(t, false, false)
	ctx := ctxFor(t)
	c := client.New(s.URL, s.Key)
	id, err := c.RunFFmpegCommand(ctx, realTimeTone)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	var progress []float64
	cmd, err := c.WaitForCommand(ctx, id, client.OnUpdate(func(cmd *client.Command) {
		if len(statuses) == 0 || statuses[len(statuses)-1] != cmd.Status {
			statuses = append(statuses, cmd.Status)
		}
		if cmd.Status == client.StatusProcessing && cmd.Progress != nil {
			progress = append(progress, *cmd.Progress)
		}
	}))
	if err != nil || cmd.Err() != nil {
		t.Fatalf("WaitForCommand: %v, %v", err, cmd.Err())
	}
	if cmd.Status != client.StatusSuccess || cmd.OutputFiles["out_a"].StorageURL == nil {
		t.Fatalf("final command: %s, outputs %+v", cmd.Status, cmd.OutputFiles)
	}
	if got := statuses[len(statuses)-1]; got != client.StatusSuccess || !containsStatus(statuses, client.StatusProcessing) {
		t.Errorf("updates went through %v; want PROCESSING then SUCCESS", statuses)
	}
	if len(progress) == 0 {
		t.Error("no progress update while PROCESSING")
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] < progress[i-1] {
			t.Errorf("progress went back: %v", progress)
		}
	}
	if s.events.Load() != 1 || s.gets.Load() != 0 {
		t.Errorf("%d event streams and %d polls; want 1 stream and no polling", s.events.Load(), s.gets.Load())
	}
}

// Without an event stream WaitForCommand polls, with the same outcome;
// WithoutEvents never asks for the stream; an unknown id is the 404 of
// GET /commands/{id}.
func TestWaitForCommandWithoutEventStream(t *testing.T) {
	s := newCounted(t, true, false)
	ctx := ctxFor(t)
	fast := client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)
	c := client.New(s.URL, s.Key, fast)
	id, err := c.RunFFmpegCommand(ctx, realTimeTone)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil || cmd.Status != client.StatusSuccess {
		t.Fatalf("WaitForCommand: %v, %+v", err, cmd)
	}
	if s.events.Load() != 1 || s.gets.Load() < 2 {
		t.Errorf("%d event streams asked for, %d polls; want 1 and polling", s.events.Load(), s.gets.Load())
	}

	s.events.Store(0)
	if _, err := client.New(s.URL, s.Key, fast, client.WithoutEvents()).WaitForCommand(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s.events.Load() != 0 {
		t.Errorf("WithoutEvents opened %d event streams", s.events.Load())
	}

	_, err = c.WaitForCommand(ctx, "00000000-0000-0000-0000-000000000000")
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || e.Code != api.CodeNotFound {
		t.Errorf("waiting for an unknown command: %v; want 404 NOT_FOUND", err)
	}
}

// A stream that breaks before the command ends: WaitForCommand goes on by
// polling and still returns the final command.
func TestWaitForCommandAfterBrokenStream(t *testing.T) {
	s := newCounted(t, false, true)
	ctx := ctxFor(t)
	c := client.New(s.URL, s.Key, client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond))
	id, err := c.RunFFmpegCommand(ctx, realTimeTone)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil || cmd.Status != client.StatusSuccess {
		t.Fatalf("WaitForCommand: %v, %+v", err, cmd)
	}
	if s.events.Load() != 1 || s.gets.Load() == 0 {
		t.Errorf("%d event streams, %d polls; want the stream, then polling", s.events.Load(), s.gets.Load())
	}
}

func containsStatus(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
