package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/store"
)

// media shared by the tests, generated once per run.
var mediaDir string

func TestMain(m *testing.M) { os.Exit(testutil.RunWithTempDir(m, &mediaDir)) }

func clip(t *testing.T) string {
	return testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
}

func submit(t *testing.T, env *testutil.Env, req engine.SubmitRequest) *store.Command {
	t.Helper()
	if req.OriginalRequest == nil {
		req.OriginalRequest, _ = json.Marshal(map[string]any{"ffmpeg_command": req.FFmpegCommand})
	}
	cmd, err := env.Engine.Submit(context.Background(), env.Account.ID, req)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return cmd
}

func TestCommandRunsToSuccess(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	env := testutil.NewEnv(t, testutil.EnvOptions{})

	cmd := submit(t, env, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_video": files.URL + "/in.mp4"},
		OutputFiles:   map[string]string{"out_video": "small.mp4"},
		FFmpegCommand: "ffmpeg -i {{in_video}} -vf scale=320:180 -c:v libx264 -preset veryfast -c:a aac {{out_video}}",
	})
	if cmd.Status != store.StatusQueued {
		t.Fatalf("a new command is %s, want QUEUED", cmd.Status)
	}
	got := env.Wait(t, cmd.ID, 60*time.Second)
	if got.Status != store.StatusSuccess {
		t.Fatalf("status %s (%s: %s), want SUCCESS", got.Status, got.ErrorStatus, got.ErrorMessage)
	}
	if got.Attempts != 1 || got.LostLeases != 0 {
		t.Errorf("attempts %d, lost leases %d; want 1 and 0", got.Attempts, got.LostLeases)
	}

	// Timings: positive, ffmpeg's inside the total.
	total, ff := *got.TotalProcessingSeconds, *got.FFmpegRunSeconds
	if !(ff > 0 && total >= ff) {
		t.Errorf("timings total=%v ffmpeg=%v: want total >= ffmpeg > 0", total, ff)
	}
	if got.FinishedAt.Before(got.ClaimedAt) || got.ClaimedAt.Before(got.CreatedAt) {
		t.Errorf("created %v, claimed %v, finished %v: out of order", got.CreatedAt, got.ClaimedAt, got.FinishedAt)
	}

	// The stored file: its record's facts, and its bytes as ffprobe sees them.
	f := got.Files["out_video"]
	if f == nil || f.Status != store.FileStored || f.ID != cmd.Outputs[0].FileID {
		t.Fatalf("output file record %+v; want STORED with the reserved id %s", f, cmd.Outputs[0].FileID)
	}
	if f.Info.Codec != "h264" || deref(f.Info.Width) != 320 || deref(f.Info.Height) != 180 || f.Info.FileType != "video" {
		t.Errorf("output facts %+v; want h264 320x180 video", f.Info)
	}
	if d := deref(f.Info.Duration); d < 4.9 || d > 5.1 {
		t.Errorf("output duration %v, want about 5", d)
	}
	local := filepath.Join(t.TempDir(), "downloaded.mp4")
	copyBlob(t, env, f.BlobKey, local)
	probed, err := (&media.Prober{}).Probe(context.Background(), local)
	if err != nil {
		t.Fatal(err)
	}
	if probed.Codec != "h264" || deref(probed.Width) != 320 || deref(probed.BitrateAudioKb) <= 0 {
		t.Errorf("stored bytes probe as %+v; want h264 320 wide with audio", probed)
	}
	if st, _ := os.Stat(local); st.Size() != f.SizeBytes {
		t.Errorf("stored %d bytes, record says %d", st.Size(), f.SizeBytes)
	}

	// The work dir is gone.
	if entries := workDirs(t, env); len(entries) != 0 {
		t.Errorf("work dirs left behind: %v", entries)
	}
}

func TestFailuresEndWithTheirErrorStatus(t *testing.T) {
	clip(t)
	if err := os.WriteFile(filepath.Join(mediaDir, "notes.mp4"), []byte("this is text, not a video\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := testutil.ServeDir(t, mediaDir)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{Workers: 4}})
	in := map[string]string{"in_video": files.URL + "/in.mp4"}
	out := map[string]string{"out_video": "out.mp4"}
	cases := []struct {
		name       string
		req        engine.SubmitRequest
		wantStatus string
		wantInMsg  []string
	}{{
		name:       "input answers 404",
		req:        engine.SubmitRequest{InputFiles: map[string]string{"in_video": files.URL + "/missing.mp4"}, OutputFiles: out, FFmpegCommand: "-i {{in_video}} {{out_video}}"},
		wantStatus: engine.ErrorUnreachableInputFile,
		wantInMsg:  []string{"in_video", "404"},
	}, {
		name:       "input refuses connections",
		req:        engine.SubmitRequest{InputFiles: map[string]string{"in_video": "http://127.0.0.1:1/in.mp4"}, OutputFiles: out, FFmpegCommand: "-i {{in_video}} {{out_video}}"},
		wantStatus: engine.ErrorUnreachableInputFile,
		wantInMsg:  []string{"in_video", "refused"},
	}, {
		name:       "ffmpeg exits non-zero",
		req:        engine.SubmitRequest{InputFiles: in, OutputFiles: out, FFmpegCommand: "-i {{in_video}} -c:v nosuchcodec {{out_video}}"},
		wantStatus: engine.ErrorFFmpegFailed,
		wantInMsg:  []string{"nosuchcodec", "exit status"},
	}, {
		name: "ffmpeg runs past max_command_run_seconds",
		req: engine.SubmitRequest{OutputFiles: out, MaxRunSeconds: ptr(1.0),
			FFmpegCommand: "-f lavfi -i testsrc=size=1280x720:rate=60:duration=3600 -c:v libx264 -preset veryslow {{out_video}}"},
		wantStatus: engine.ErrorTimeout,
		wantInMsg:  []string{"max_command_run_seconds", "1 s"},
	}, {
		name:       "input is not media",
		req:        engine.SubmitRequest{InputFiles: map[string]string{"in_video": files.URL + "/notes.mp4"}, OutputFiles: out, FFmpegCommand: "-i {{in_video}} {{out_video}}"},
		wantStatus: engine.ErrorInvalidInputFile,
		wantInMsg:  []string{"in_video", "not a media file", "Invalid data"},
	}, {
		name: "declared output never written",
		req: engine.SubmitRequest{InputFiles: in, OutputFiles: out,
			FFmpegCommand: "-i {{in_video}} -t 0.1 -f null {{out_video}}"},
		wantStatus: engine.ErrorOutputMissing,
		wantInMsg:  []string{"out_video", "out.mp4"},
	}}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = submit(t, env, c.req).ID
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := env.Wait(t, ids[i], 60*time.Second)
			if got.Status != store.StatusFailed || got.ErrorStatus != c.wantStatus {
				t.Fatalf("status %s/%s (%s), want FAILED/%s", got.Status, got.ErrorStatus, got.ErrorMessage, c.wantStatus)
			}
			for _, want := range c.wantInMsg {
				if !strings.Contains(got.ErrorMessage, want) {
					t.Errorf("error_message %q does not mention %q", got.ErrorMessage, want)
				}
			}
			if strings.Contains(got.ErrorMessage, env.Dir) {
				t.Errorf("error_message leaks the engine's paths: %q", got.ErrorMessage)
			}
			if got.TotalProcessingSeconds == nil || got.FFmpegRunSeconds == nil {
				t.Errorf("a failed command has timings too")
			}
			if len(got.Files) != 0 {
				t.Errorf("a failed command stored files: %v", got.Files)
			}
		})
	}
	if n := countBlobs(t, env); n != 0 {
		t.Errorf("failed commands left %d objects in the bucket", n)
	}
}

func TestInputOverTheSizeCapFails(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{MaxInputBytes: 1000}})
	cmd := submit(t, env, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_video": files.URL + "/in.mp4"},
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-i {{in_video}} {{out_video}}",
	})
	got := env.Wait(t, cmd.ID, 30*time.Second)
	if got.ErrorStatus != engine.ErrorInputTooLarge || !strings.Contains(got.ErrorMessage, "1000") {
		t.Fatalf("got %s (%s), want INPUT_TOO_LARGE naming the limit", got.ErrorStatus, got.ErrorMessage)
	}
}

// A long command keeps its lease through heartbeats, however short the
// lease is compared with the run.
func TestHeartbeatsKeepALongCommandsLease(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{LeaseDuration: 1500 * time.Millisecond, SweepInterval: 100 * time.Millisecond}})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=4.5:size=160x120:rate=10 {{out_video}}",
	})
	got := env.Wait(t, cmd.ID, 30*time.Second)
	if got.Status != store.StatusSuccess || got.Attempts != 1 || got.LostLeases != 0 {
		t.Fatalf("status %s (%s), attempts %d, lost %d; want SUCCESS on the first attempt",
			got.Status, got.ErrorMessage, got.Attempts, got.LostLeases)
	}
	if *got.FFmpegRunSeconds < 4 {
		t.Errorf("ffmpeg ran %vs; the test needs it to outlive the lease several times", *got.FFmpegRunSeconds)
	}
}

// flakyRenewals is the real store, except that lease renewals fail for the
// first claim it sees: its worker behaves as if the store were unreachable
// for it, while the rest of the process carries on.
type flakyRenewals struct {
	store.Store
	mu     sync.Mutex
	victim string
}

func (s *flakyRenewals) RenewLease(ctx context.Context, id string, l store.Lease) error {
	s.mu.Lock()
	if s.victim == "" {
		s.victim = l.Owner
	}
	fail := s.victim == l.Owner
	s.mu.Unlock()
	if fail {
		return errors.New("injected: the store did not answer")
	}
	return s.Store.RenewLease(ctx, id, l)
}

// A worker that can't renew its lease stops before the lease expires; the
// same process claims the command again (a new claim, a new owner), and the
// command finishes once, with the second attempt's outputs only.
func TestSameProcessTakesOverAStalledClaim(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	flaky := &flakyRenewals{Store: env.Store}
	eng, err := engine.New(engine.Config{
		Store: flaky, Storage: env.Bucket, WorkDir: filepath.Join(env.Dir, "work2"), Workers: 2,
		LeaseDuration: 900 * time.Millisecond, SweepInterval: 100 * time.Millisecond, Logger: testutil.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop(context.Background())
	cmd, err := eng.Submit(context.Background(), env.Account.ID, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=2:size=160x120:rate=10 {{out_video}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := eng.Wait(ctx, env.Account.ID, cmd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusSuccess || got.Attempts != 2 || got.LostLeases != 1 {
		t.Fatalf("status %s (%s), attempts %d, lost %d; want SUCCESS on attempt 2", got.Status, got.ErrorMessage, got.Attempts, got.LostLeases)
	}
	files, _ := env.Store.CommandFiles(context.Background(), cmd.ID)
	if len(files) != 1 || !strings.Contains(files[0].BlobKey, "/2/") {
		t.Fatalf("file records %+v; want one, from attempt 2", files)
	}
	time.Sleep(200 * time.Millisecond) // let the first attempt's clean-up finish
	if n := countBlobs(t, env); n != 1 {
		t.Errorf("the bucket holds %d objects, want only the recorded one", n)
	}
	if _, err := env.Bucket.Open(context.Background(), files[0].BlobKey); err != nil {
		t.Errorf("the recorded output is gone: %v", err)
	}
}

// A command held by a worker that died is taken over once its lease expires.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{
		LeaseDuration: time.Second, SweepInterval: 100 * time.Millisecond}})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=1:size=160x120 {{out_video}}",
	})
	// A worker in another process claims it, then dies without a trace.
	now := time.Now()
	if _, err := env.Store.ClaimCommand(context.Background(), cmd.ID, store.Lease{Owner: "ghost", Now: now, ExpiresAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	env.Start(t)
	got := env.Wait(t, cmd.ID, 30*time.Second)
	if got.Status != store.StatusSuccess || got.Attempts != 2 || got.LostLeases != 1 {
		t.Fatalf("status %s (%s), attempts %d, lost %d; want SUCCESS on attempt 2 after 1 lost lease",
			got.Status, got.ErrorMessage, got.Attempts, got.LostLeases)
	}
	if waited := got.ClaimedAt.Sub(now); waited < time.Second {
		t.Errorf("taken over after %v, before the lease expired", waited)
	}
}

// A command whose worker was lost MaxWorkerLosses times ends FAILED.
func TestCommandThatKeepsLosingItsWorkerFails(t *testing.T) {
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=1 {{out_video}}",
	})
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	for i := 0; i < engine.DefaultMaxWorkerLosses; i++ {
		// Each ghost's lease is long expired when the next one claims.
		if _, err := env.Store.ClaimCommand(ctx, cmd.ID, store.Lease{Owner: "ghost", Now: at, ExpiresAt: at.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
	}
	env.Start(t)
	got := env.Wait(t, cmd.ID, 30*time.Second)
	if got.Status != store.StatusFailed || got.ErrorStatus != engine.ErrorWorkerLost {
		t.Fatalf("status %s/%s, want FAILED/WORKER_LOST", got.Status, got.ErrorStatus)
	}
	if got.LostLeases != engine.DefaultMaxWorkerLosses {
		t.Errorf("lost leases %d, want %d", got.LostLeases, engine.DefaultMaxWorkerLosses)
	}
}

// An engine process on this host that died (its node lock is free) has its
// leases taken over at once, not after they expire.
func TestDeadLocalEngineIsTakenOverAtOnce(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=1 {{out_video}}",
	})
	now := time.Now()
	if _, err := env.Store.ClaimCommand(context.Background(), cmd.ID, store.Lease{Owner: "dead-node/1", Node: "dead-node", Now: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The dead process left its node lock file (unlocked) and a work dir.
	nodes := filepath.Join(env.Dir, "work", "nodes")
	os.MkdirAll(nodes, 0o700)
	os.WriteFile(filepath.Join(nodes, "dead-node.lock"), nil, 0o600)
	stale := filepath.Join(env.Dir, "work", "runs", "dead-node", cmd.ID+".1")
	os.MkdirAll(stale, 0o700)

	env.Start(t)
	got := env.Wait(t, cmd.ID, 30*time.Second)
	if got.Status != store.StatusSuccess || got.LostLeases != 1 {
		t.Fatalf("status %s (%s), lost %d; want SUCCESS after taking over", got.Status, got.ErrorMessage, got.LostLeases)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the dead engine's work dir is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(nodes, "dead-node.lock")); !os.IsNotExist(err) {
		t.Errorf("the dead engine's lock file is still there")
	}
}

// When the store says another worker owns the command now, the run stops
// and records nothing.
func TestRunStopsWhenItsLeaseIsLost(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{LeaseDuration: 600 * time.Millisecond}})
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=20:size=160x120:rate=10 {{out_video}}",
	})
	ctx := context.Background()
	waitForStatus(t, env, cmd.ID, store.StatusProcessing)
	// Another worker takes the command over: its clock says the lease
	// expired long ago.
	later := time.Now().Add(time.Hour)
	if _, err := env.Store.ClaimCommand(ctx, cmd.ID, store.Lease{Owner: "thief", Node: "thief-node", Now: later, ExpiresAt: later.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Within a heartbeat or two the engine gives up: its work dir goes.
	deadline := time.Now().Add(5 * time.Second)
	for len(workDirs(t, env)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if dirs := workDirs(t, env); len(dirs) > 0 {
		t.Fatalf("the engine kept running a command it lost: %v", dirs)
	}
	got, err := env.Store.GetCommand(ctx, cmd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusProcessing || got.LeaseOwner != "thief" {
		t.Fatalf("status %s owner %q: the old worker wrote over the new one's lease", got.Status, got.LeaseOwner)
	}
}

// Commands accepted while no worker runs (or before a crash) run on start.
func TestQueuedCommandsRunAfterARestart(t *testing.T) {
	testutil.RequireFFmpeg(t)
	first := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, submit(t, first, engine.SubmitRequest{
			OutputFiles:   map[string]string{"out_video": "out.mp4"},
			FFmpegCommand: "-f lavfi -i testsrc=duration=1:size=160x120 {{out_video}}",
		}).ID)
	}
	first.Store.Close() // the process "ends" with three QUEUED commands

	second := testutil.NewEnv(t, testutil.EnvOptions{Dir: first.Dir})
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		got, err := second.Engine.Wait(ctx, first.Account.ID, id)
		cancel()
		if err != nil || got.Status != store.StatusSuccess {
			t.Fatalf("command %s after restart: %v %+v", id, err, got)
		}
	}
}

// Stop with a short grace period stops running commands and puts them back
// in the queue, for the next engine to run from the start.
func TestStopReleasesRunningCommands(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	if err := env.Engine.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cmd := submit(t, env, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-re -f lavfi -i testsrc=duration=30:size=160x120:rate=10 {{out_video}}",
	})
	waitForStatus(t, env, cmd.ID, store.StatusProcessing)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := env.Engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %v", took)
	}
	got, err := env.Store.GetCommand(context.Background(), cmd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusQueued || got.LeaseOwner != "" {
		t.Fatalf("after Stop the command is %s owned by %q; want QUEUED and free", got.Status, got.LeaseOwner)
	}
}

func TestSubmitValidates(t *testing.T) {
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{AllowPrivateURLs: false}})
	_, err := env.Engine.Submit(context.Background(), env.Account.ID, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_video": "ftp://example.com/a.mp4"},
		OutputFiles:   map[string]string{"out_video": "../x.mp4"},
		FFmpegCommand: "-i {{in_video}} {{out_video}}",
		Metadata:      map[string]any{"nested": map[string]any{"a": 1}},
		MaxRunSeconds: ptr(1e9),
	})
	var invalid *engine.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("Submit = %v, want a *ValidationError", err)
	}
	want := map[string]bool{
		"body/input_files/in_video":    false,
		"body/output_files/out_video":  false,
		"body/metadata/nested":         false,
		"body/max_command_run_seconds": false,
	}
	for _, p := range invalid.Problems {
		var parts []string
		for _, l := range p.Loc {
			parts = append(parts, toString(l))
		}
		want[strings.Join(parts, "/")] = true
	}
	for loc, seen := range want {
		if !seen {
			t.Errorf("no problem reported at %s; got %+v", loc, invalid.Problems)
		}
	}
}

func waitForStatus(t *testing.T, env *testutil.Env, id string, status store.Status) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := env.Store.GetCommand(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == status {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("command %s never reached %s", id, status)
}

func workDirs(t *testing.T, env *testutil.Env) []string {
	t.Helper()
	dir := filepath.Join(env.Dir, "work", "runs", env.Engine.Config().NodeID)
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func countBlobs(t *testing.T, env *testutil.Env) int {
	t.Helper()
	n := 0
	filepath.Walk(filepath.Join(env.Dir, "files"), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && !strings.HasSuffix(p, ".attrs") {
			n++
		}
		return nil
	})
	return n
}

func copyBlob(t *testing.T, env *testutil.Env, key, dst string) {
	t.Helper()
	obj, err := env.Bucket.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, obj); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
