package main

// These tests run the real openrender binary, built once in TestMain, as OS
// processes: real HTTP on 127.0.0.1, real SQLite files, real ffmpeg runs on
// media made with lavfi. Nothing is mocked.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/store/sqlite"
)

// binary is the openrender binary under test.
var binary string

// raceEnabled is set by race_test.go: under -race the binary is built with
// the race detector too, so a data race in the server fails its exit code.
var raceEnabled bool

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "openrender-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "openrender")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building openrender:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// keyPattern matches an API key anywhere in a text.
var keyPattern = regexp.MustCompile(`ffsk_[0-9a-f]{64}`)

// baseEnv is this process's environment without OPENRENDER_ variables, so
// that only what a test sets reaches the binary.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENRENDER_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	// A race-built binary otherwise sleeps 1 s at exit.
	env = append(env, "GORACE=atexit_sleep_ms=0")
	return append(env, extra...)
}

// cliResult is how a short-lived run of the binary ended.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the binary to completion (at most 30 s) in a scratch working
// directory, so a default ./openrender-data never lands in the source tree.
func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = baseEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("openrender %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("openrender %s did not exit within 30 s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), &stdout, &stderr)
	}
	return cliResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// server is one running `openrender serve` process.
type server struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:port
	dataDir string
	key     string // the key the helpers send; may be empty

	stdoutPath, stderrPath string
	exited                 chan struct{}
	started                time.Time
}

// serverOptions says how to start a server.
type serverOptions struct {
	dataDir string
	// key is passed as --api-key unless empty; the helpers send it.
	key string
	// args are more flags.
	args []string
	// env is added to the environment.
	env []string
	// bare: pass no flags of our own (--addr, --data-dir, ...); addr must
	// then say where the server will listen (through args or env).
	bare bool
	addr string
	// noHTTP: the server serves no HTTP (--role worker); it is ready once
	// it prints its banner.
	noHTTP bool
}

// startServer starts a server in its own process group and waits until it
// answers HTTP. The server is killed, if still running, when the test ends.
func startServer(t *testing.T, o serverOptions) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := tryStartServer(t, o)
		if err == nil {
			return s
		}
		// Another process may have taken the free port we picked.
		if o.bare || o.noHTTP || attempt == 3 || !strings.Contains(s.stderr(), "address already in use") {
			t.Fatalf("%v\n%s", err, s.output())
		}
	}
}

func tryStartServer(t *testing.T, o serverOptions) (*server, error) {
	addr := o.addr
	var args []string
	if !o.bare {
		addr = freeAddr(t)
		args = []string{"serve", "--addr", addr, "--data-dir", o.dataDir, "--public-url", "http://" + addr,
			"--allow-private-urls"}
		if o.key != "" {
			args = append(args, "--api-key", o.key)
		}
	}
	args = append(args, o.args...)
	logDir := t.TempDir()
	s := &server{
		t:          t,
		name:       "openrender " + strings.Join(args, " "),
		url:        "http://" + addr,
		dataDir:    o.dataDir,
		key:        o.key,
		stdoutPath: filepath.Join(logDir, "stdout"),
		stderrPath: filepath.Join(logDir, "stderr"),
		exited:     make(chan struct{}),
	}
	stdout, err := os.Create(s.stdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(s.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	s.cmd = exec.Command(binary, args...)
	s.cmd.Dir = logDir
	s.cmd.Env = baseEnv(o.env...)
	s.cmd.Stdout, s.cmd.Stderr = stdout, stderr
	// Its own process group: a SIGKILL of the group reaches only it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		if !s.hasExited() {
			s.kill()
		}
		if strings.Contains(s.stderr(), "WARNING: DATA RACE") {
			t.Errorf("the race detector found a data race in the server")
		}
		if t.Failed() {
			t.Logf("%s", s.output())
		}
	})
	if o.noHTTP {
		return s, s.waitBanner(30 * time.Second)
	}
	return s, s.waitReady(30 * time.Second)
}

// waitBanner waits until the server has printed its start-up banner.
func (s *server) waitBanner(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(s.stdout(), "OpenRender") {
		if s.hasExited() {
			return fmt.Errorf("%s exited with code %d before starting", s.name, s.cmd.ProcessState.ExitCode())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not start within %v", s.name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// waitReady waits until GET /api/v1/commands?limit=1 gets an HTTP answer
// (any status: a server without a known key answers 401).
func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/commands?limit=1", nil)
		if s.key != "" {
			req.Header.Set("X-API-KEY", s.key)
		}
		resp, err := httpClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if s.hasExited() {
			return fmt.Errorf("%s exited with code %d before answering HTTP", s.name, s.cmd.ProcessState.ExitCode())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer HTTP within %v: %v", s.name, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *server) stdout() string { b, _ := os.ReadFile(s.stdoutPath); return string(b) }
func (s *server) stderr() string { b, _ := os.ReadFile(s.stderrPath); return string(b) }

// output is the server's stdout and stderr, for failure messages.
func (s *server) output() string {
	return fmt.Sprintf("--- %s\n--- stdout:\n%s--- stderr:\n%s", s.name, s.stdout(), s.stderr())
}

// kill SIGKILLs the server's process group and waits for the server to die.
func (s *server) kill() {
	s.t.Helper()
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		s.t.Errorf("kill %s: %v", s.name, err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("%s survived SIGKILL for 10 s", s.name)
	}
}

// stop sends SIGTERM and waits for the exit. It returns the exit code and
// how long the exit took.
func (s *server) stop(timeout time.Duration) (int, time.Duration) {
	s.t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM %s: %v", s.name, err)
	}
	select {
	case <-s.exited:
	case <-time.After(timeout):
		s.t.Fatalf("%s did not exit within %v of SIGTERM\n%s", s.name, timeout, s.output())
	}
	return s.cmd.ProcessState.ExitCode(), time.Since(start)
}

// stopOK stops the server and fails the test unless it exits 0.
func (s *server) stopOK() {
	s.t.Helper()
	if code, _ := s.stop(30 * time.Second); code != 0 {
		s.t.Fatalf("%s exited with code %d after SIGTERM, want 0\n%s", s.name, code, s.output())
	}
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// do sends a request with key (none if empty) and returns the status and body.
func (s *server) do(method, path, key string, body any) (int, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", method, path, err, s.output())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// listStatus is the status of GET /api/v1/commands?limit=1 with key.
func (s *server) listStatus(key string) int {
	s.t.Helper()
	code, _ := s.do("GET", "/api/v1/commands?limit=1", key, nil)
	return code
}

// submitAs submits a command for key's account and returns its id.
func (s *server) submitAs(key string, req map[string]any) string {
	s.t.Helper()
	code, body := s.do("POST", "/api/v1/run-ffmpeg-command", key, req)
	if code != http.StatusOK {
		s.t.Fatalf("submit: %d %s", code, body)
	}
	var id api.CommandID
	if err := json.Unmarshal(body, &id); err != nil || id.CommandID == "" {
		s.t.Fatalf("submit answered %s: %v", body, err)
	}
	return id.CommandID
}

func (s *server) submit(req map[string]any) string {
	s.t.Helper()
	return s.submitAs(s.key, req)
}

// getAs returns GET /api/v1/commands/{id} as key's account: the HTTP status
// and, for a 200, the command object.
func (s *server) getAs(key, id string) (int, *api.Command) {
	s.t.Helper()
	code, body := s.do("GET", "/api/v1/commands/"+id, key, nil)
	if code != http.StatusOK {
		return code, nil
	}
	var c api.Command
	if err := json.Unmarshal(body, &c); err != nil {
		s.t.Fatalf("GET command %s: %v in %s", id, err, body)
	}
	return code, &c
}

func (s *server) get(id string) *api.Command {
	s.t.Helper()
	code, c := s.getAs(s.key, id)
	if code != http.StatusOK {
		s.t.Fatalf("GET command %s: status %d", id, code)
	}
	return c
}

// waitStatus polls the command until its status is one of want, and fails
// the test if it reaches another final status or the timeout passes.
func (s *server) waitStatus(id string, timeout time.Duration, want ...string) *api.Command {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := s.get(id)
		for _, w := range want {
			if c.Status == w {
				return c
			}
		}
		if c.Status == "SUCCESS" || c.Status == "FAILED" {
			s.t.Fatalf("command %s is %s (%s: %s), want %v", id, c.Status, c.ErrorStatus, c.ErrorMessage, want)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("command %s still %s after %v, want %v\n%s", id, c.Status, timeout, want, s.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStdout waits until the server's stdout matches re and returns it.
func (s *server) waitStdout(re *regexp.Regexp, timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := s.stdout()
		if re.MatchString(out) {
			return out
		}
		if time.Now().After(deadline) || s.hasExited() {
			s.t.Fatalf("the server's stdout never matched %s\n%s", re, s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openDB opens a data dir's SQLite file. Call it while no server runs on the
// dir, or only to read.
func openDB(t *testing.T, dataDir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "openrender.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tinyCommand writes a one-second lavfi clip; it needs no input.
func tinyCommand() map[string]any {
	return map[string]any{
		"input_files":    map[string]string{},
		"output_files":   map[string]string{"out_video": "tiny.mp4"},
		"ffmpeg_command": "-f lavfi -i testsrc=duration=1:size=64x64:rate=5 -c:v libx264 -preset ultrafast {{out_video}}",
	}
}

// ffmpegsIn returns the pids of live processes whose working directory is
// under dir: the ffmpeg runs of an engine whose work dir that is.
func ffmpegsIn(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir+string(filepath.Separator)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			// A zombie has finished; only its parent's wait is missing.
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}
