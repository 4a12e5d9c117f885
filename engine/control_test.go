package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// A transcode of 20 s of media, throttled to real time with -re so it is
// watched for a while: progress only rises, reaches 100, and the ETA falls.
func TestProgressRisesTo100AndETAFalls(t *testing.T) {
	in := testutil.MakeClip(t, mediaDir, "in20.mp4", testutil.Clip{Seconds: 20, Size: "160x120", Rate: 10})
	files := testutil.ServeDir(t, filepath.Dir(in))
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	cmd := submit(t, env, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_video": files.URL + "/in20.mp4"},
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -i {{in_video}} -c:v libx264 -preset ultrafast {{out_video}}",
	})

	type sample struct {
		progress float64
		eta      *float64
	}
	var samples []sample
	var statuses []store.Status
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := env.Engine.Watch(ctx, env.Account.ID, cmd.ID, func(c *engine.CommandInfo) error {
		if len(statuses) == 0 || statuses[len(statuses)-1] != c.Status {
			statuses = append(statuses, c.Status)
		}
		if c.Status == store.StatusProcessing && c.Progress != nil {
			samples = append(samples, sample{c.Progress.Percent, c.Progress.ETASeconds})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if last := statuses[len(statuses)-1]; last != store.StatusSuccess {
		t.Fatalf("statuses %v, want SUCCESS last", statuses)
	}
	if len(samples) < 5 {
		t.Fatalf("only %d progress samples over a 20 s run: %v", len(samples), samples)
	}
	for i := 1; i < len(samples); i++ {
		if samples[i].progress < samples[i-1].progress {
			t.Errorf("progress went back: %v then %v", samples[i-1].progress, samples[i].progress)
		}
	}
	first, last := samples[0], samples[len(samples)-1]
	if first.progress > 50 || last.progress < 85 {
		t.Errorf("progress ran from %v to %v; want it to start low and end near 100", first.progress, last.progress)
	}
	// The ETA falls: from the first estimate with one to the last.
	var etas []float64
	for _, s := range samples {
		if s.eta != nil {
			etas = append(etas, *s.eta)
		}
	}
	if len(etas) < 3 || !(etas[len(etas)-1] < etas[0]) || etas[0] < 5 {
		t.Errorf("ETAs %v: want a first estimate of several seconds, falling to the last", etas)
	}
	// The last progress recorded while PROCESSING is 100: the store keeps
	// it (the API shows progress only while PROCESSING).
	got, err := env.Store.GetCommand(context.Background(), cmd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Progress == nil || got.Progress.Percent != 100 {
		t.Errorf("progress recorded when ffmpeg ended: %+v, want 100", got.Progress)
	}
}

// A generated source has no known duration: progress stays absent.
func TestProgressAbsentWhenDurationUnknown(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=3:size=160x120:rate=10 {{out_video}}",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := env.Engine.Watch(ctx, env.Account.ID, cmd.ID, func(c *engine.CommandInfo) error {
		if c.Status == store.StatusProcessing && c.Progress != nil {
			t.Errorf("progress %+v for a command of unknown duration", c.Progress)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hookCounter is a webhook receiver that counts deliveries per command.
type hookCounter struct {
	mu  sync.Mutex
	got map[string]int
}

func newHookCounter(t *testing.T) (*hookCounter, string) {
	h := &hookCounter{got: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct {
				CommandID   string `json:"command_id"`
				ErrorStatus string `json:"error_status"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err == nil {
			h.mu.Lock()
			h.got[body.Data.CommandID+"/"+body.Data.ErrorStatus]++
			h.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *hookCounter) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[key]
}

func TestCancelQueuedNeverRuns(t *testing.T) {
	testutil.RequireFFmpeg(t)
	hooks, hookURL := newHookCounter(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=1:size=160x120:rate=10 {{out_video}}",
		WebhookURL:    hookURL,
	})
	got, err := env.Engine.Cancel(context.Background(), env.Account.ID, cmd.ID)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got.Status != store.StatusFailed || got.ErrorStatus != engine.ErrorCancelled {
		t.Fatalf("after Cancel: %s %s, want FAILED CANCELLED", got.Status, got.ErrorStatus)
	}
	env.Start(t) // workers now: the command must not run
	time.Sleep(300 * time.Millisecond)
	after, err := env.Store.GetCommand(context.Background(), cmd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Attempts != 0 || after.Status != store.StatusFailed {
		t.Errorf("the cancelled command was claimed: attempts %d, status %s", after.Attempts, after.Status)
	}
	waitFor(t, 10*time.Second, "the webhook", func() bool { return hooks.count(cmd.ID+"/CANCELLED") == 1 })
	_, err = env.Engine.Cancel(context.Background(), env.Account.ID, cmd.ID)
	if !errors.Is(err, engine.ErrCommandFinished) {
		t.Errorf("second Cancel = %v, want ErrCommandFinished", err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := hooks.count(cmd.ID + "/CANCELLED"); n != 1 {
		t.Errorf("webhook fired %d times, want once", n)
	}
}

func TestCancelProcessingKillsFFmpegAtOnce(t *testing.T) {
	testutil.RequireFFmpeg(t)
	hooks, hookURL := newHookCounter(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=60:size=160x120:rate=10 {{out_video}}",
		WebhookURL:    hookURL,
	})
	pid := waitForFFmpeg(t, cmd.ID)
	start := time.Now()
	got, err := env.Engine.Cancel(context.Background(), env.Account.ID, cmd.ID)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if !processGone(pid) {
		t.Errorf("ffmpeg (pid %d) still runs when Cancel returned", pid)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Cancel of a command running here took %v", took)
	}
	if got.Status != store.StatusFailed || got.ErrorStatus != engine.ErrorCancelled {
		t.Fatalf("after Cancel: %s %s, want FAILED CANCELLED", got.Status, got.ErrorStatus)
	}
	if len(got.Files) != 0 || countBlobs(t, env) != 0 {
		t.Errorf("a cancelled command kept outputs: %d records, %d blobs", len(got.Files), countBlobs(t, env))
	}
	if dirs := workDirs(t, env); len(dirs) != 0 {
		t.Errorf("work dirs left: %v", dirs)
	}
	waitFor(t, 10*time.Second, "the webhook", func() bool { return hooks.count(cmd.ID+"/CANCELLED") == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := hooks.count(cmd.ID + "/CANCELLED"); n != 1 {
		t.Errorf("webhook fired %d times, want once", n)
	}
}

// A cancel made through another engine process sharing the store (here a
// second engine on the same SQLite file, which runs no workers) stops
// ffmpeg within about a second, through the store.
func TestCancelThroughAnotherProcess(t *testing.T) {
	testutil.RequireFFmpeg(t)
	runner := testutil.NewEnv(t, testutil.EnvOptions{})
	api := testutil.NewEnv(t, testutil.EnvOptions{Dir: runner.Dir, NoStart: true})
	cmd := submit(t, runner, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=60:size=160x120:rate=10 {{out_video}}",
	})
	pid := waitForFFmpeg(t, cmd.ID)
	start := time.Now()
	got, err := api.Engine.Cancel(context.Background(), api.Account.ID, cmd.ID)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got.Status != store.StatusFailed || got.ErrorStatus != engine.ErrorCancelled {
		t.Fatalf("after Cancel: %s %s, want FAILED CANCELLED", got.Status, got.ErrorStatus)
	}
	if !processGone(pid) {
		t.Errorf("ffmpeg (pid %d) still runs when the command is FAILED", pid)
	}
	// One WatchInterval for the runner to see the request, one for the
	// API's Wait to see the outcome, and slack for a loaded machine.
	if took := time.Since(start); took > 2*engine.WatchInterval+time.Second {
		t.Errorf("cancel through another process took %v", took)
	}
}

func TestCancelFinishedIsRefused(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=0.5:size=160x120:rate=10 {{out_video}}",
	})
	if c := env.Wait(t, cmd.ID, 60*time.Second); c.Status != store.StatusSuccess {
		t.Fatalf("status %s", c.Status)
	}
	got, err := env.Engine.Cancel(context.Background(), env.Account.ID, cmd.ID)
	if !errors.Is(err, engine.ErrCommandFinished) || got == nil || got.Status != store.StatusSuccess {
		t.Fatalf("Cancel of a SUCCESS command = %v, %v; want ErrCommandFinished", got, err)
	}
	_, err = env.Engine.Cancel(context.Background(), "another-account", cmd.ID)
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Cancel from another account = %v, want ErrNotFound", err)
	}
}

// waitForFFmpeg returns the pid of the ffmpeg running the command: the
// process whose working directory is the command's work dir.
func waitForFFmpeg(t *testing.T, commandID string) int {
	t.Helper()
	var pid int
	waitFor(t, 30*time.Second, "ffmpeg to start", func() bool {
		pid = findProcessIn(commandID)
		return pid != 0
	})
	return pid
}

func findProcessIn(commandID string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || !strings.Contains(filepath.Base(cwd), commandID) {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && strings.Contains(filepath.Base(exe), "ffmpeg") {
			return pid
		}
	}
	return 0
}

// processGone reports whether pid has exited (a zombie has too).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A chain's progress runs across its steps: each counts for an equal share,
// so it is under 50 during the first of two steps and over 50 during the
// second, never goes back, and is written at most about once a second.
func TestChainProgressAcrossSteps(t *testing.T) {
	in := testutil.MakeClip(t, mediaDir, "in4.mp4", testutil.Clip{Seconds: 4, Size: "160x120", Rate: 10})
	files := testutil.ServeDir(t, filepath.Dir(in))
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	step := "-re -i {{in_video}} -c:v libx264 -preset ultrafast "
	cmd, err := env.Engine.SubmitChained(context.Background(), env.Account.ID, engine.SubmitRequest{
		InputFiles:     map[string]string{"in_video": files.URL + "/in4.mp4"},
		OutputFiles:    map[string]string{"out_a": "a.mp4", "out_b": "b.mp4"},
		FFmpegCommands: []string{step + "{{out_a}}", step + "{{out_b}}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	type sample struct {
		at       time.Time
		progress float64
	}
	var samples []sample
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = env.Engine.Watch(ctx, env.Account.ID, cmd.ID, func(c *engine.CommandInfo) error {
		if c.Status == store.StatusProcessing && c.Progress != nil &&
			(len(samples) == 0 || samples[len(samples)-1].progress != c.Progress.Percent) {
			samples = append(samples, sample{time.Now(), c.Progress.Percent})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	var firstHalf, secondHalf bool
	for i, s := range samples {
		firstHalf = firstHalf || (s.progress > 0 && s.progress < 50)
		secondHalf = secondHalf || (s.progress > 50 && s.progress < 100)
		if i == 0 {
			continue
		}
		if s.progress < samples[i-1].progress {
			t.Errorf("progress went back: %v then %v", samples[i-1].progress, s.progress)
		}
		// A step's end (50) and the run's (100) are written at once;
		// other writes come at most once a second (a little less, for the
		// watcher's wake-up jitter).
		boundary := s.progress == 50 || s.progress == 100 || samples[i-1].progress == 50
		if gap := s.at.Sub(samples[i-1].at); gap < 800*time.Millisecond && !boundary {
			t.Errorf("progress written %v after the previous write (%v then %v); want at most once a second", gap, samples[i-1].progress, s.progress)
		}
	}
	if !firstHalf || !secondHalf {
		t.Errorf("progress samples %v: want values under 50 in step 1 and over 50 in step 2", samples)
	}
}
