package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
)

func runSh(t *testing.T, script string, timeout time.Duration, tail int) engine.RunResult {
	t.Helper()
	res, err := engine.ProcessRunner{}.Run(context.Background(), engine.RunSpec{
		Path: "/bin/sh", Args: []string{"-c", script}, Dir: t.TempDir(),
		Env: []string{"PATH=/usr/bin:/bin", "ONLY=this"}, Timeout: timeout, StderrTailBytes: tail,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunnerKeepsTheStderrTail(t *testing.T) {
	res := runSh(t, `i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 3`, 10*time.Second, 64)
	if res.ExitCode != 3 || res.TimedOut {
		t.Fatalf("exit %d timedOut %v", res.ExitCode, res.TimedOut)
	}
	if len(res.StderrTail) != 64 || !strings.HasSuffix(string(res.StderrTail), "line 1999\n") {
		t.Fatalf("tail %q: want the last 64 bytes", res.StderrTail)
	}
}

func TestRunnerGivesAMinimalEnvironmentAndNoStdin(t *testing.T) {
	t.Setenv("SECRET_FROM_ENGINE", "leak")
	res := runSh(t, `env >&2; cat >&2; pwd >&2`, 10*time.Second, 4096)
	out := string(res.StderrTail)
	if strings.Contains(out, "SECRET_FROM_ENGINE") || !strings.Contains(out, "ONLY=this") {
		t.Fatalf("the child saw the environment:\n%s", out)
	}
	if res.ExitCode != 0 {
		t.Fatalf("reading stdin failed: %d %s", res.ExitCode, out)
	}
}

// The timeout kills the whole process group, children included.
func TestRunnerTimeoutKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	start := time.Now()
	res := runSh(t, `sleep 300 & echo $! > `+pidFile+`; wait`, 300*time.Millisecond, 1024)
	if !res.TimedOut || res.Signal != syscall.SIGKILL {
		t.Fatalf("timedOut %v signal %v; want a SIGKILL timeout", res.TimedOut, res.Signal)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the run took %v after a 300ms timeout", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the child %d outlived the timeout", pid)
	}
}

// alive reports whether pid runs; a zombie (killed, not yet reaped by
// whoever adopted it) does not.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestRunnerCancelReturnsTheContextError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := engine.ProcessRunner{}.Run(ctx, engine.RunSpec{Path: "/bin/sleep", Args: []string{"300"}, Dir: t.TempDir()})
	if err != context.DeadlineExceeded {
		t.Fatalf("Run = %v, want the context's error", err)
	}
}
