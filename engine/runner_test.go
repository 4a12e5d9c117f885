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
	dir := t.TempDir()
	res, err := engine.ProcessRunner{}.Run(context.Background(), engine.RunSpec{
		Path: "/bin/sh", Args: []string{"-c", `env >&2; echo "stdin=$(readlink /proc/self/fd/0)" >&2; echo "cwd=$(pwd)" >&2`},
		Dir: dir, Env: []string{"PATH=/usr/bin:/bin", "ONLY=this"}, StderrTailBytes: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.StderrTail)
	if strings.Contains(out, "SECRET_FROM_ENGINE") || !strings.Contains(out, "ONLY=this") {
		t.Errorf("the child saw the engine's environment:\n%s", out)
	}
	if !strings.Contains(out, "stdin=/dev/null\n") {
		t.Errorf("stdin is not /dev/null:\n%s", out)
	}
	if !strings.Contains(out, "cwd="+dir+"\n") {
		t.Errorf("the working directory is not %s:\n%s", dir, out)
	}
}

// MaxFileBytes stops a program that writes a bigger file, with SIGXFSZ.
func TestRunnerCapsFileSize(t *testing.T) {
	dir := t.TempDir()
	res, err := engine.ProcessRunner{}.Run(context.Background(), engine.RunSpec{
		Path: "/bin/sh", Args: []string{"-c", "sleep 0.1; head -c 100000 /dev/zero > big"},
		Dir: dir, Env: []string{"PATH=/usr/bin:/bin"}, MaxFileBytes: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, statErr := os.Stat(filepath.Join(dir, "big"))
	if statErr != nil || fi.Size() > 4096 {
		t.Fatalf("the file is %v bytes (%v); want at most 4096", fi, statErr)
	}
	if res.ExitCode == 0 {
		t.Fatalf("writing past the cap succeeded")
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
