package engine_test

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// slowCommand takes about a second of ffmpeg time, long enough that two
// runs would overlap if nothing held them apart.
const slowCommand = "-i {{in_video}} -re -f lavfi -i testsrc=duration=1:size=320x240:rate=25 -map 1 -c:v libx264 -preset ultrafast -t 1 {{out_video}}"

func TestAccountCapRunsOneAtATime(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{Workers: 2, MaxRunningPerAccount: 1}})
	var ids []string
	for range 2 {
		ids = append(ids, submit(t, env, engine.SubmitRequest{
			InputFiles:    map[string]string{"in_video": files.URL + "/in.mp4"},
			OutputFiles:   map[string]string{"out_video": "out.mp4"},
			FFmpegCommand: slowCommand,
		}).ID)
	}
	checkNoOverlap(t, env, ids)
}

// TestAccountCapHoldsAcrossEngines has two engine processes' worth of
// engines share one store, each with free workers: the cap still holds.
func TestAccountCapHoldsAcrossEngines(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	cfg := engine.Config{Workers: 2, MaxRunningPerAccount: 1, LeaseDuration: 3 * time.Second, SweepInterval: 200 * time.Millisecond}
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: cfg})
	cfg.Store, cfg.Storage = env.Store, env.Bucket
	cfg.WorkDir = filepath.Join(env.Dir, "work")
	cfg.AllowPrivateURLs = true
	cfg.Logger = testutil.Logger(t)
	second, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Stop(context.Background()) })

	var ids []string
	for i := range 4 {
		eng := env.Engine
		if i%2 == 1 {
			eng = second
		}
		cmd, err := eng.Submit(context.Background(), env.Account.ID, engine.SubmitRequest{
			InputFiles:      map[string]string{"in_video": files.URL + "/in.mp4"},
			OutputFiles:     map[string]string{"out_video": "out.mp4"},
			FFmpegCommand:   slowCommand,
			OriginalRequest: []byte(`{}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cmd.ID)
	}
	checkNoOverlap(t, env, ids)
}

// checkNoOverlap waits for every command, requires SUCCESS on the first
// attempt, and checks from the store's claim and finish times that no two
// ran at once.
func checkNoOverlap(t *testing.T, env *testutil.Env, ids []string) {
	t.Helper()
	type span struct{ start, end time.Time }
	var spans []span
	for _, id := range ids {
		got := env.Wait(t, id, 120*time.Second)
		if got.Status != store.StatusSuccess || got.Attempts != 1 {
			t.Fatalf("command %s: %s (%s: %s), attempts %d; want SUCCESS on attempt 1", id, got.Status, got.ErrorStatus, got.ErrorMessage, got.Attempts)
		}
		c, err := env.Store.GetCommand(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		spans = append(spans, span{c.ClaimedAt, c.FinishedAt})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start.Before(spans[i-1].end) {
			t.Errorf("runs overlap: one ran %s–%s, the next started at %s", spans[i-1].start.Format(time.StampMilli),
				spans[i-1].end.Format(time.StampMilli), spans[i].start.Format(time.StampMilli))
		}
	}
}
