package main

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// The crash test's commands. A slow one re-encodes a 10 s 640x360 clip to
// 1280x720 with -preset slower on one thread: about 5 s on a 2-core test
// machine, and not much less on a machine with many cores.
func slowCommand(inURL string) map[string]any {
	return map[string]any{
		"input_files":    map[string]string{"in_video": inURL},
		"output_files":   map[string]string{"out_video": "big.mp4"},
		"ffmpeg_command": "-i {{in_video}} -vf scale=1280:720 -c:v libx264 -preset slower -threads 1 {{out_video}}",
	}
}

func twoOutputCommand(inURL string) map[string]any {
	return map[string]any{
		"input_files":    map[string]string{"in_video": inURL},
		"output_files":   map[string]string{"out_small": "small.mp4", "out_thumb": "thumb.jpg"},
		"ffmpeg_command": "-i {{in_video}} -t 2 -vf scale=320:180 -c:v libx264 -preset ultrafast {{out_small}} -frames:v 1 {{out_thumb}}",
	}
}

func quickCommand(inURL string) map[string]any {
	return map[string]any{
		"input_files":    map[string]string{"in_video": inURL},
		"output_files":   map[string]string{"out_clip": "clip.mp4"},
		"ffmpeg_command": "-i {{in_video}} -t 2 -vf scale=160:90 -c:v libx264 -preset ultrafast {{out_clip}}",
	}
}

// TestCrashMidRunLosesNothing SIGKILLs a server while it runs commands and
// has more queued, starts another on the same data dir, and checks that
// every command ends SUCCESS exactly once: one file record and one stored
// object per output, no work dirs left, and the killed runs taken over at
// once through the dead process's free node lock, not after its lease.
func TestCrashMidRunLosesNothing(t *testing.T) {
	t.Parallel()
	mediaDir := t.TempDir()
	testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 10, Size: "640x360"})
	inURL := testutil.ServeDir(t, mediaDir).URL + "/in.mp4"
	dataDir := t.TempDir()
	workDir := filepath.Join(dataDir, "work")
	key := engine.NewAPIKey()
	// A 10-minute lease: if the restarted server waited for the leases
	// to expire, the commands would not finish within this test.
	const lease = 10 * time.Minute
	opts := serverOptions{dataDir: dataDir, key: key, args: []string{"--workers", "2", "--lease-duration", lease.String()}}

	s1 := startServer(t, opts)
	var ids []string
	for range 3 {
		ids = append(ids, s1.submit(slowCommand(inURL)))
	}
	s1.waitStatus(ids[0], 30*time.Second, "PROCESSING")
	s1.waitStatus(ids[1], 30*time.Second, "PROCESSING")
	ids = append(ids, s1.submit(twoOutputCommand(inURL)), s1.submit(quickCommand(inURL)))
	for _, id := range ids[2:] {
		if c := s1.get(id); c.Status != "QUEUED" {
			t.Fatalf("command %s is %s while both workers are busy, want QUEUED", id, c.Status)
		}
	}
	// Kill while ffmpeg is at work on both, not while it is still starting.
	deadline := time.Now().Add(20 * time.Second)
	for len(ffmpegsIn(workDir)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("two ffmpeg runs never started under %s\n%s", workDir, s1.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	running := ffmpegsIn(workDir)
	s1.kill()

	// ffmpeg dies with its engine (Pdeathsig): no orphan keeps writing.
	deadline = time.Now().Add(5 * time.Second)
	for left := ffmpegsIn(workDir); len(left) > 0; left = ffmpegsIn(workDir) {
		if time.Now().After(deadline) {
			t.Fatalf("ffmpeg processes %v (of %v) outlived their SIGKILLed server by 5 s", left, running)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// What the crash left: the two running commands PROCESSING under the
	// dead node's long lease, with their work dirs; the rest QUEUED.
	killedAt := time.Now()
	st := openDB(t, dataDir)
	var deadNode string
	for i, id := range ids {
		c, err := st.GetCommand(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		want := store.StatusQueued
		if i < 2 {
			want = store.StatusProcessing
		}
		if c.Status != want {
			t.Fatalf("after the kill command %d (%s) is %s, want %s", i, id, c.Status, want)
		}
		if want != store.StatusProcessing {
			continue
		}
		if deadNode == "" {
			deadNode = c.LeaseNode
		}
		if c.LeaseNode == "" || c.LeaseNode != deadNode || !strings.HasPrefix(c.LeaseOwner, deadNode+"/") {
			t.Fatalf("running commands are leased to node %q and %q (claim %q), want one node", deadNode, c.LeaseNode, c.LeaseOwner)
		}
		if left := c.LeaseExpiresAt.Sub(killedAt); left < lease/2 {
			t.Fatalf("the dead node's lease on %s expires in %v; the test needs a long one", id, left)
		}
		if _, err := os.Stat(filepath.Join(workDir, "runs", deadNode, fmt.Sprintf("%s.%d", id, c.Attempts))); err != nil {
			t.Errorf("the killed run of %s left no work dir: %v", id, err)
		}
	}
	st.Close()

	s2 := startServer(t, opts)
	for _, id := range ids {
		s2.waitStatus(id, 100*time.Second, "SUCCESS")
	}
	took := time.Since(s2.started)
	t.Logf("after the restart, all %d commands succeeded in %v (the dead node's lease had %v to run)", len(ids), took.Round(time.Millisecond), lease)
	if !strings.Contains(s2.stderr(), "dead_node="+deadNode) {
		t.Errorf("the new server did not log taking over dead node %s\n%s", deadNode, s2.output())
	}
	// The outputs download from their links.
	for _, id := range ids {
		for alias, f := range s2.get(id).OutputFiles {
			if f.StorageURL == nil || f.Status != "STORED" {
				t.Fatalf("command %s output %s: status %s, storage_url %v", id, alias, f.Status, f.StorageURL)
			}
			resp, err := http.Get(*f.StorageURL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
				t.Errorf("GET %s: %s, %d bytes", *f.StorageURL, resp.Status, resp.ContentLength)
			}
		}
	}
	s2.stopOK()

	// Exactly once, as the store and the bucket record it.
	st = openDB(t, dataDir)
	defer st.Close()
	var outputs int
	for i, id := range ids {
		c, err := st.GetCommand(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		wantAttempts, wantLost := 1, 0
		if i < 2 {
			wantAttempts, wantLost = 2, 1
		}
		if c.Status != store.StatusSuccess || c.LeaseOwner != "" || c.Attempts != wantAttempts || c.LostLeases != wantLost {
			t.Errorf("command %d (%s): status %s, lease owner %q, attempts %d, lost leases %d; want SUCCESS, none, %d, %d",
				i, id, c.Status, c.LeaseOwner, c.Attempts, c.LostLeases, wantAttempts, wantLost)
		}
		outputs += len(c.Outputs)
	}
	checkFiles(t, st, dataDir, ids, outputs)

	// No work dirs: the dead node's is gone with its lock file, the live
	// node's holds nothing.
	if _, err := os.Stat(filepath.Join(workDir, "nodes", deadNode+".lock")); err == nil {
		t.Errorf("the dead node's lock file is still there")
	}
	runs := filepath.Join(workDir, "runs")
	entries, err := os.ReadDir(runs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == deadNode {
			t.Errorf("the dead node's work dir %s is still there", e.Name())
		} else if left, _ := os.ReadDir(filepath.Join(runs, e.Name())); len(left) > 0 {
			t.Errorf("work dir %s still holds %v", e.Name(), left)
		}
	}
}

// checkFiles asserts that the commands have exactly one STORED file record
// per declared output (wantOutputs in all), and that the local bucket holds
// exactly those objects, with the recorded sizes, and nothing else.
func checkFiles(t *testing.T, st store.Store, dataDir string, ids []string, wantOutputs int) {
	t.Helper()
	files, err := st.CommandFiles(context.Background(), ids...)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*store.File{}
	for _, id := range ids {
		c, err := st.GetCommand(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range c.Outputs {
			var n int
			for _, f := range files {
				if f.CommandID == id && f.Alias == out.Alias {
					n++
					if f.ID != out.FileID || f.Status != store.FileStored {
						t.Errorf("command %s output %s: file %s is %s, want file %s STORED", id, out.Alias, f.ID, f.Status, out.FileID)
					}
					byKey[f.BlobKey] = f
				}
			}
			if n != 1 {
				t.Errorf("command %s output %s has %d file records, want 1", id, out.Alias, n)
			}
		}
	}
	if len(files) != wantOutputs {
		t.Errorf("%d file records for %d outputs", len(files), wantOutputs)
	}

	bucket := filepath.Join(dataDir, "files")
	var objects []string
	err = filepath.WalkDir(bucket, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".attrs") {
			return err
		}
		rel, err := filepath.Rel(bucket, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		objects = append(objects, key)
		f := byKey[key]
		if f == nil {
			t.Errorf("the bucket holds %s, which no file record names", key)
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() != f.SizeBytes {
			t.Errorf("object %s: %v bytes (%v), the record says %d", key, info.Size(), err, f.SizeBytes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != wantOutputs {
		slices.Sort(objects)
		t.Errorf("the bucket holds %d objects for %d outputs: %v", len(objects), wantOutputs, objects)
	}
}

// realtimeCommand takes `seconds` of wall time whatever the machine (-re),
// and needs no input.
func realtimeCommand(seconds int) map[string]any {
	return map[string]any{
		"input_files":  map[string]string{},
		"output_files": map[string]string{"out_video": "clip.mp4"},
		"ffmpeg_command": "-re -f lavfi -i testsrc=duration=" + strconv.Itoa(seconds) +
			":size=160x120:rate=10 -c:v libx264 -preset ultrafast {{out_video}}",
	}
}

// TestSIGTERMReleasesAndRestartCompletes: on SIGTERM a server lets a running
// command go on for --shutdown-grace, then stops it, puts it back to QUEUED
// with no lease, and exits 0; the next server runs it again at once.
func TestSIGTERMReleasesAndRestartCompletes(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	workDir := filepath.Join(dataDir, "work")
	opts := serverOptions{dataDir: dataDir, key: engine.NewAPIKey(), args: []string{"--workers", "1", "--shutdown-grace", "200ms"}}

	s1 := startServer(t, opts)
	id := s1.submit(realtimeCommand(4))
	s1.waitStatus(id, 20*time.Second, "PROCESSING")
	deadline := time.Now().Add(10 * time.Second)
	for len(ffmpegsIn(workDir)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ffmpeg never started\n%s", s1.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, took := s1.stop(10 * time.Second)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, s1.output())
	}
	if took > 3*time.Second {
		t.Errorf("the server took %v to exit with a 200ms grace", took)
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if left := ffmpegsIn(workDir); len(left) > 0 {
		t.Errorf("ffmpeg %v still runs after its server exited", left)
	}
	if !strings.Contains(s1.stderr(), "command released") {
		t.Errorf("the server did not log releasing the command\n%s", s1.output())
	}

	st := openDB(t, dataDir)
	c, err := st.GetCommand(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != store.StatusQueued || c.LeaseOwner != "" || !c.LeaseExpiresAt.IsZero() {
		t.Errorf("after SIGTERM: status %s, lease %q until %v; want QUEUED and no lease", c.Status, c.LeaseOwner, c.LeaseExpiresAt)
	}
	if files, err := st.CommandFiles(context.Background(), id); err != nil || len(files) != 0 {
		t.Errorf("after SIGTERM: file records %v (%v), want none", files, err)
	}
	st.Close()

	s2 := startServer(t, opts)
	done := s2.waitStatus(id, 30*time.Second, "SUCCESS")
	t.Logf("the restarted server finished the command %v after starting", time.Since(s2.started).Round(time.Millisecond))
	// It ran from the start: -re makes the whole run take 4 s.
	if done.FFmpegCommandRunSeconds == nil || *done.FFmpegCommandRunSeconds < 3.5 {
		t.Errorf("ffmpeg_command_run_seconds %v, want a whole 4 s run", done.FFmpegCommandRunSeconds)
	}
	s2.stopOK()

	st = openDB(t, dataDir)
	defer st.Close()
	c, err = st.GetCommand(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// Released, not lost: the second claim is an attempt, not a takeover.
	if c.Status != store.StatusSuccess || c.Attempts != 2 || c.LostLeases != 0 {
		t.Errorf("status %s, attempts %d, lost leases %d; want SUCCESS, 2, 0", c.Status, c.Attempts, c.LostLeases)
	}
	checkFiles(t, st, dataDir, []string{id}, 1)
}

// TestSIGTERMLetsRunningCommandFinish: within the grace period a running
// command finishes and is recorded before the server exits 0.
func TestSIGTERMLetsRunningCommandFinish(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, serverOptions{dataDir: dataDir, key: engine.NewAPIKey(), args: []string{"--shutdown-grace", "30s"}})
	id := s.submit(realtimeCommand(2))
	s.waitStatus(id, 20*time.Second, "PROCESSING")
	code, took := s.stop(30 * time.Second)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, s.output())
	}
	st := openDB(t, dataDir)
	defer st.Close()
	c, err := st.GetCommand(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != store.StatusSuccess || c.Attempts != 1 {
		t.Errorf("after a graceful stop (%v): status %s (%s: %s), attempts %d; want SUCCESS, 1",
			took, c.Status, c.ErrorStatus, c.ErrorMessage, c.Attempts)
	}
	checkFiles(t, st, dataDir, []string{id}, 1)
}
