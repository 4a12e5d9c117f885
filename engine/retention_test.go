package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/store"
)

func uploadClip(t *testing.T, env *testutil.Env, eng *engine.Engine) *store.File {
	t.Helper()
	f, err := os.Open(clip(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sf, err := eng.UploadFile(context.Background(), env.Account.ID, "in.mp4", f)
	if err != nil || sf.Status != store.FileStored {
		t.Fatalf("UploadFile: %+v, %v", sf, err)
	}
	return sf
}

func checkGone(t *testing.T, env *testutil.Env, files ...*store.File) {
	t.Helper()
	for _, f := range files {
		if _, err := env.Bucket.Open(context.Background(), f.BlobKey); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("file %s: bytes still in the bucket (%v)", f.ID, err)
		}
		got, err := env.Store.GetFile(context.Background(), f.ID)
		if err != nil || !got.IsDeleted {
			t.Errorf("file %s: record %+v, %v; want kept with IsDeleted", f.ID, got, err)
		}
	}
}

// Files and command outputs older than Retention are deleted by the sweep;
// younger ones stay.
func TestRetentionDeletesOldFilesAndOutputs(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{Retention: time.Hour, Now: clk.Now}})
	upload := uploadClip(t, env, env.Engine)
	srv := testutil.ServeDir(t, filepath.Dir(clip(t)))
	cmd := submit(t, env, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_v": srv.URL + "/in.mp4"},
		OutputFiles:   map[string]string{"out_a": "a.mp3"},
		FFmpegCommand: "-i {{in_v}} -vn -c:a libmp3lame {{out_a}}",
	})
	done := env.Wait(t, cmd.ID, 60*time.Second)
	if done.Status != store.StatusSuccess {
		t.Fatalf("command: %s %s", done.ErrorStatus, done.ErrorMessage)
	}
	output := done.Files["out_a"]

	if st, err := env.Engine.SweepFiles(context.Background()); err != nil || st.Expired != 0 {
		t.Fatalf("sweep before retention: %+v, %v; want nothing deleted", st, err)
	}
	clk.Add(30 * time.Minute)
	young := uploadClip(t, env, env.Engine)
	clk.Add(31 * time.Minute)
	st, err := env.Engine.SweepFiles(context.Background())
	if err != nil || st.Expired != 2 {
		t.Fatalf("sweep past retention: %+v, %v; want the upload and the output deleted", st, err)
	}
	checkGone(t, env, upload, output)
	if obj, err := env.Bucket.Open(context.Background(), young.BlobKey); err != nil {
		t.Errorf("a file younger than retention lost its bytes: %v", err)
	} else {
		obj.Close()
	}
	info, _ := env.Engine.Get(context.Background(), env.Account.ID, cmd.ID)
	if !info.Files["out_a"].IsDeleted {
		t.Error("the command's output is not shown deleted")
	}
	// Sweeping again deletes nothing twice.
	if st, err := env.Engine.SweepFiles(context.Background()); err != nil || st.Expired != 0 {
		t.Errorf("second sweep: %+v, %v", st, err)
	}
}

// Several engine processes sweeping one store at once: each file is
// deleted by exactly one of them, and all are gone.
func TestRetentionSweepSeveralEngines(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{Retention: time.Hour, Now: clk.Now}})
	engines := []*engine.Engine{env.Engine}
	for i := 0; i < 3; i++ {
		e, err := engine.New(engine.Config{Store: env.Store, Storage: env.Bucket, Retention: time.Hour, Now: clk.Now,
			WorkDir: filepath.Join(env.Dir, "work"), Logger: testutil.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	var files []*store.File
	for i := 0; i < 12; i++ {
		files = append(files, uploadClip(t, env, engines[i%len(engines)]))
	}
	clk.Add(2 * time.Hour)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for _, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := e.SweepFiles(context.Background())
			if err != nil {
				t.Errorf("SweepFiles: %v", err)
			}
			mu.Lock()
			total += st.Expired
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != len(files) {
		t.Errorf("the engines deleted %d files in all, want each of the %d exactly once", total, len(files))
	}
	checkGone(t, env, files...)
}

// A deleter that died between marking a file deleted and deleting its
// bytes leaves them for the sweep, which deletes them a minute later.
func TestSweepFinishesInterruptedDeletes(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{Now: clk.Now}})
	f := uploadClip(t, env, env.Engine)
	if _, err := env.Store.DeleteFile(context.Background(), f.ID, clk.Now()); err != nil { // the record only
		t.Fatal(err)
	}
	if st, _ := env.Engine.SweepFiles(context.Background()); st.Purged != 0 {
		t.Errorf("a delete just made was redone at once: %+v", st)
	}
	clk.Add(2 * time.Minute)
	if st, err := env.Engine.SweepFiles(context.Background()); err != nil || st.Purged != 1 {
		t.Errorf("sweep: %+v, %v; want the left-over bytes deleted", st, err)
	}
	checkGone(t, env, f)
	// Deleting them again is harmless.
	if err := env.Bucket.Delete(context.Background(), f.BlobKey); err != nil {
		t.Errorf("second delete of the bytes: %v", err)
	}
}

// A store-file fetch whose process died stays PROCESSING only until the
// sweep can be sure no live process is still on it.
func TestSweepFailsDeadFetches(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{Now: clk.Now}})
	dead := &store.File{ID: "0190c6d2-0000-7000-8000-000000000001", AccountID: env.Account.ID, FileName: "x.mp4",
		BlobKey: "files/0190c6d2-0000-7000-8000-000000000001/x.mp4", Status: store.FileProcessing,
		OriginalURL: "https://example.com/x.mp4", CreatedAt: clk.Now(), UpdatedAt: clk.Now()}
	if err := env.Store.CreateFile(context.Background(), dead); err != nil {
		t.Fatal(err)
	}
	if st, _ := env.Engine.SweepFiles(context.Background()); st.FailedStale != 0 {
		t.Errorf("a fetch that may be running was failed: %+v", st)
	}
	clk.Add(24 * time.Hour)
	if st, err := env.Engine.SweepFiles(context.Background()); err != nil || st.FailedStale != 1 {
		t.Errorf("sweep: %+v, %v; want the dead fetch failed", st, err)
	}
	got, _ := env.Store.GetFile(context.Background(), dead.ID)
	if got.Status != store.FileFailed || got.ErrorStatus != engine.ErrorInternal {
		t.Errorf("dead fetch: %s %s", got.Status, got.ErrorStatus)
	}
}
