// Package testutil holds what OpenRender's tests share: media generated with
// ffmpeg's lavfi sources, a loopback file server, and an engine on a real
// SQLite file and a real local bucket. Nothing here is a mock.
package testutil

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/sqlite"
)

// RequireFFmpeg skips the test when ffmpeg or ffprobe is missing. .ci/run
// installs both, so in CI nothing is skipped.
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (apt-get install -y ffmpeg)", p)
		}
	}
}

// Clip describes a generated test clip.
type Clip struct {
	Seconds int
	Size    string // WxH
	Rate    int
	Audio   bool
}

var clipMu sync.Mutex

// MakeClip writes an H.264 (+AAC) MP4 made from testsrc (and a sine tone)
// into dir/name, once, and returns its path.
func MakeClip(t testing.TB, dir, name string, c Clip) string {
	t.Helper()
	RequireFFmpeg(t)
	clipMu.Lock()
	defer clipMu.Unlock()
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if c.Rate == 0 {
		c.Rate = 30
	}
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc=duration=%d:size=%s:rate=%d", c.Seconds, c.Size, c.Rate)}
	if c.Audio {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:duration=%d", c.Seconds),
			"-c:a", "aac", "-shortest")
	}
	args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", path+".tmp.mp4")
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("generate %s: %v\n%s", name, err, out)
	}
	if err := os.Rename(path+".tmp.mp4", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// RunWithTempDir runs a package's tests with *dir set to a fresh temporary
// directory (for media shared by the tests), removed afterwards; TestMain
// passes its result to os.Exit.
func RunWithTempDir(m *testing.M, dir *string) int {
	d, err := os.MkdirTemp("", "openrender-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(d)
	*dir = d
	return m.Run()
}

// ServeDir serves dir over HTTP on 127.0.0.1 until the test ends.
func ServeDir(t testing.TB, dir string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

// Env is an engine on a real SQLite file and a real file:// bucket in a
// temporary directory.
type Env struct {
	Dir     string
	Store   *sqlite.Store
	Bucket  *blobstore.Bucket
	Signer  *storage.LinkSigner
	Engine  *engine.Engine
	Account *store.Account
	Key     string
}

// EnvOptions adjust NewEnv.
type EnvOptions struct {
	// Config is the base engine config; NewEnv fills Store, Storage,
	// WorkDir and AllowPrivateURLs (true, since tests serve on 127.0.0.1).
	Config engine.Config
	// PublicURL is the base of local storage links. Default: a placeholder,
	// fine for tests that don't fetch links.
	PublicURL string
	// NoStart leaves the engine stopped.
	NoStart bool
	// Dir reuses a data dir (a restart); default t.TempDir().
	Dir string
	// StorageURL is the bucket, by URL (the test must import the driver
	// of a cloud scheme). Default: file://<Dir>/files.
	StorageURL string
	// DenyPrivateURLs keeps the production rule: no loopback or private
	// addresses for inputs and webhooks.
	DenyPrivateURLs bool
}

// NewEnv builds and starts an engine; everything is torn down when the test
// ends.
func NewEnv(t testing.TB, o EnvOptions) *Env {
	t.Helper()
	ctx := context.Background()
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "openrender.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	rand.Read(key)
	signer, err := storage.NewLinkSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	if o.PublicURL == "" {
		o.PublicURL = "http://openrender.invalid"
	}
	if o.StorageURL == "" {
		o.StorageURL = "file://" + filepath.Join(dir, "files")
	}
	bucket, err := blobstore.Open(ctx, o.StorageURL, blobstore.Options{PublicURL: o.PublicURL, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })
	cfg := o.Config
	if cfg.Logger == nil {
		cfg.Logger = Logger(t)
	}
	cfg.Store, cfg.Storage = st, bucket
	cfg.WorkDir = filepath.Join(dir, "work")
	cfg.AllowPrivateURLs = !o.DenyPrivateURLs
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	apiKey := engine.NewAPIKey()
	acct, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, apiKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Dir: dir, Store: st, Bucket: bucket, Signer: signer, Engine: eng, Account: acct, Key: apiKey}
	if !o.NoStart {
		env.Start(t)
	}
	return env
}

// Logger returns a logger that writes through t.Log, so an engine's logs
// show up with the test that produced them (on failure or with -v).
func Logger(t testing.TB) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(w.close) // registered first, so it runs after the engine stops
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLogWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// Start starts the engine and stops it when the test ends.
func (e *Env) Start(t testing.TB) {
	t.Helper()
	if err := e.Engine.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Engine.Stop(ctx)
	})
}

// Wait waits up to timeout for a command to finish.
func (e *Env) Wait(t testing.TB, id string, timeout time.Duration) *engine.CommandInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := e.Engine.Wait(ctx, e.Account.ID, id)
	if err != nil {
		t.Fatalf("waiting for command %s: %v", id, err)
	}
	return c
}

// Clock is a clock a test moves by hand (engine.Config.Now,
// httpapi.Config.Now), so that time-based behaviour is tested by passing
// time, not by waiting for it. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
