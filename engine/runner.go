package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RunSpec is one ffmpeg invocation.
type RunSpec struct {
	// Path is the program, an absolute path.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Dir is the working directory: the command's own work dir.
	Dir string
	// Env is the whole environment; nothing is inherited.
	Env []string
	// Timeout bounds the run; when it passes, the whole process group is
	// killed and RunResult.TimedOut is set.
	Timeout time.Duration
	// StderrTailBytes is how much of the end of stderr to keep.
	StderrTailBytes int
	// MaxFileBytes, if positive, caps the size of any file the program
	// writes (RLIMIT_FSIZE); past it the program dies with SIGXFSZ.
	MaxFileBytes int64
	// MaxCPUSeconds, if positive, caps the CPU time the program uses
	// (RLIMIT_CPU); past it the program dies with SIGXCPU.
	MaxCPUSeconds int64
	// MaxMemoryBytes, if positive, caps the program's address space
	// (RLIMIT_AS); allocations past it fail.
	MaxMemoryBytes int64
	// MaxProcesses, if positive, caps the processes and threads the
	// program may have (RLIMIT_NPROC). Only a sandboxing runner applies it:
	// the limit counts every process of the user, which outside a user
	// namespace includes the engine's own threads.
	MaxProcesses int64
	// Writable lists the dirs the program may write, all inside Dir. A
	// sandboxing runner lets the program read Dir and write only these; a
	// plain runner ignores it.
	Writable []string
	// Stdout receives the program's standard output; nil discards it.
	// The engine reads ffmpeg's -progress output there. Writes to it do
	// not block (a Runner may call it from its own goroutine).
	Stdout io.Writer
}

// RunResult is how a run ended.
type RunResult struct {
	// ExitCode is the exit status, or -1 if a signal ended the process.
	ExitCode int
	// Signal is the signal that ended the process, if one did.
	Signal syscall.Signal
	// TimedOut: Timeout passed and the process group was killed.
	TimedOut bool
	// StderrTail is the last StderrTailBytes of stderr.
	StderrTail []byte
	// Duration is the wall time from start to exit.
	Duration time.Duration
}

// Runner runs a program to completion. The engine runs ffmpeg through it, so
// a sandboxing runner can wrap the same spec.
type Runner interface {
	// Run starts the program and waits for it. A cancelled ctx kills the
	// process group and returns ctx's error. An error means the program
	// could not be run at all; a non-zero exit is a RunResult, not an error.
	Run(ctx context.Context, spec RunSpec) (RunResult, error)
}

// ProcessRunner runs the program as a direct child in its own process group,
// with stdin from /dev/null and the given environment only. It does not
// isolate the program: the engine uses it only with Config.UnsafeNoSandbox
// (see sandboxRunner for the default).
type ProcessRunner struct{}

// Run implements Runner.
func (ProcessRunner) Run(ctx context.Context, spec RunSpec) (RunResult, error) {
	return runProcess(ctx, spec, func(ctx context.Context) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, spec.Path, spec.Args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			// Its own process group, so one kill reaches anything it spawned.
			Setpgid: true,
			// If the engine dies, so does ffmpeg: a new engine will run the
			// command again and must not find an orphan writing to its files.
			Pdeathsig: syscall.SIGKILL,
		}
		return cmd, nil
	}, true)
}

// runProcess runs the command newCmd builds (which must put it in its own
// process group) with spec's dir, environment, timeout and stderr tail.
// With limitAfterStart, spec's rlimits are set from outside right after
// the start; a sandboxing runner sets them itself before the program runs.
func runProcess(ctx context.Context, spec RunSpec, newCmd func(context.Context) (*exec.Cmd, error), limitAfterStart bool) (RunResult, error) {
	runCtx := ctx
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	tail := &tailBuffer{max: spec.StderrTailBytes}
	cmd, err := newCmd(runCtx)
	if err != nil {
		return RunResult{}, err
	}
	cmd.Dir = spec.Dir
	if cmd.Env == nil {
		cmd.Env = spec.Env
	}
	if cmd.Env == nil {
		cmd.Env = []string{} // never inherit the engine's environment
	}
	cmd.Stderr = tail // stdin stays nil: /dev/null
	if cmd.Stdout == nil && spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild holding stderr open can't keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return RunResult{}, err
	}
	if limitAfterStart {
		// Set from outside, a few microseconds after the start: ffmpeg
		// spends tens of milliseconds loading its libraries before it can
		// write anything. Past the limits the kernel sends SIGXFSZ/SIGXCPU.
		if err := setLimits(cmd.Process.Pid, spec); err != nil {
			cmd.Cancel()
			cmd.Wait()
			return RunResult{}, err
		}
	}
	waitErr := cmd.Wait()

	res := RunResult{Duration: time.Since(start), StderrTail: tail.Bytes(), ExitCode: cmd.ProcessState.ExitCode()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	// A process that exited cleanly just as the deadline passed did not
	// time out; one we killed did.
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) && res.ExitCode != 0 {
		res.TimedOut = true
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, context.DeadlineExceeded) {
		return res, waitErr
	}
	return res, nil
}

// setLimits applies spec's file size, CPU and memory limits to pid.
func setLimits(pid int, spec RunSpec) error {
	for _, l := range []struct {
		what     string
		resource int
		value    int64
	}{
		{"the output size", unix.RLIMIT_FSIZE, spec.MaxFileBytes},
		{"the CPU time", unix.RLIMIT_CPU, spec.MaxCPUSeconds},
		{"the memory", unix.RLIMIT_AS, spec.MaxMemoryBytes},
	} {
		if l.value <= 0 {
			continue
		}
		lim := unix.Rlimit{Cur: uint64(l.value), Max: uint64(l.value)}
		if err := unix.Prlimit(pid, l.resource, &lim, nil); err != nil {
			return fmt.Errorf("limit %s: %w", l.what, err)
		}
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it. ffmpeg's stderr can run
// to megabytes (-loglevel debug); only its end explains a failure.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if t.max <= 0 {
		return n, nil
	}
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}
