package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openrender/openrender/internal/sandbox"
	"github.com/openrender/openrender/media"
)

// sandboxRunner runs ffmpeg in the sandbox (see package internal/sandbox):
// no network, Landlock limiting the filesystem to the system's read-only
// files, the command's work dir (readable) and its out/ and tmp/ dirs
// (writable), and rlimits set before ffmpeg starts.
type sandboxRunner struct {
	mode     sandbox.Mode
	readOnly []string // Config.SandboxReadOnlyPaths
}

// errSandbox marks a failure of the sandbox helper itself: an engine or
// host problem, never the user's command.
var errSandbox = errors.New("sandbox")

// Run implements Runner.
func (r sandboxRunner) Run(ctx context.Context, spec RunSpec) (RunResult, error) {
	return r.run(ctx, spec, nil)
}

// run is Run with the program's stdout going to stdout (nil: to
// spec.Stdout, or /dev/null). ffprobe's stdout is its answer (see
// ffprobeRunner); ffmpeg's carries its -progress output.
func (r sandboxRunner) run(ctx context.Context, spec RunSpec, stdout io.Writer) (RunResult, error) {
	res, err := runProcess(ctx, spec, func(ctx context.Context) (*exec.Cmd, error) {
		cmd, err := sandbox.Command(ctx, sandbox.Spec{
			Path:     spec.Path,
			Args:     spec.Args,
			Env:      spec.Env,
			ReadOnly: append([]string{spec.Dir}, r.readOnly...),
			Writable: spec.Writable,
			Limits: sandbox.Limits{
				CPUSeconds:        positive(spec.MaxCPUSeconds),
				FileBytes:         positive(spec.MaxFileBytes),
				AddressSpaceBytes: positive(spec.MaxMemoryBytes),
				Processes:         positive(spec.MaxProcesses),
			},
		}, r.mode)
		if err != nil {
			return nil, err
		}
		if stdout == nil {
			stdout = spec.Stdout
		}
		cmd.Stdout = stdout // runProcess leaves a set Stdout alone
		return cmd, nil
	}, false)
	if err == nil && res.ExitCode == sandbox.HelperFailedExit {
		if i := strings.Index(string(res.StderrTail), sandbox.HelperErrorPrefix); i >= 0 {
			msg := strings.TrimSpace(string(res.StderrTail[i+len(sandbox.HelperErrorPrefix):]))
			return res, fmt.Errorf("%w: %s", errSandbox, msg)
		}
	}
	return res, err
}

func positive(n int64) uint64 {
	if n <= 0 {
		return 0
	}
	return uint64(n)
}

// chooseRunner picks how ffmpeg runs: Config.Runner if the embedder set
// one; otherwise the sandbox, after a probe proves it works on this host;
// otherwise, only with UnsafeNoSandbox, a plain process, loudly. It never
// falls back to running unsandboxed on its own. It settles how ffprobe runs
// too (see ffprobeRunner): with the engine's sandbox only when ffmpeg has it.
func (e *Engine) chooseRunner(ctx context.Context) (Runner, error) {
	if e.cfg.Runner != nil {
		e.log.Info("ffmpeg runs through the Runner given in Config; the engine's sandbox is not used, and ffprobe runs unsandboxed")
		e.ffprobeRunner().decide(nil)
		return e.cfg.Runner, nil
	}
	if e.cfg.UnsafeNoSandbox {
		e.log.Warn("UNSAFE: running ffmpeg WITHOUT a sandbox (--unsafe-no-sandbox): a command can read any file this process can, " +
			"reach the network and other services, and read other commands' files. Use only with trusted commands.")
		e.ffprobeRunner().decide(nil)
		return ProcessRunner{}, nil
	}
	mode, err := sandbox.Probe(ctx, e.cfg.FFmpegPath, e.cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("engine: refusing to start workers: ffmpeg can't be sandboxed on this host (%w). "+
			"The sandbox needs Linux with Landlock enabled and either user namespaces or root (for a network namespace); "+
			"in a container, allow unshare/CLONE_NEWUSER in the seccomp profile. "+
			"To run without isolation anyway, for trusted commands only, set Config.UnsafeNoSandbox (serve --unsafe-no-sandbox)", err)
	}
	e.log.Info("ffmpeg runs sandboxed", "mode", mode.String(), "landlock_abi", sandbox.LandlockABI())
	runner := sandboxRunner{mode: mode, readOnly: e.cfg.SandboxReadOnlyPaths}
	// ffprobe parses the same untrusted files (outputs, stored files), so
	// it gets the same sandbox; check now that it runs there, rather than
	// failing every probe later.
	probes := e.ffprobeRunner()
	if err := probes.check(ctx, runner); err != nil {
		return nil, fmt.Errorf("engine: refusing to start workers: ffprobe (%s) does not run in the sandbox: %w", e.cfg.FFprobePath, err)
	}
	probes.decide(&runner)
	e.log.Info("ffprobe runs sandboxed")
	return runner, nil
}

// writableDirs are the parts of a command's work dir ffmpeg may write.
func writableDirs(dir string) []string {
	return []string{filepath.Join(dir, outDir), filepath.Join(dir, tmpDir)}
}

// ffprobeTimeout bounds each ffprobe run (media.Prober.Timeout): ffprobe
// reads headers and a few packets, so this is generous, yet a hostile file
// can't hold a worker for long.
const ffprobeTimeout = 30 * time.Second

// newProber returns the engine's media.Prober. Its ffprobe runs the way
// ffmpeg does: in the sandbox unless Config.Runner or UnsafeNoSandbox says
// otherwise. Which it is gets settled by Start (chooseRunner), or by the
// first probe if that comes first (an engine that serves uploads without
// being started); see ffprobeRunner.
func newProber(cfg Config) *media.Prober {
	return &media.Prober{
		FFprobePath: cfg.FFprobePath,
		Timeout:     ffprobeTimeout,
		Runner: &ffprobeRunner{
			cfg: cfg,
			log: cfg.Logger.With("node", cfg.NodeID),
		},
	}
}

// ffprobeRunner is the engine's media.FFprobeRunner. In the sandbox,
// ffprobe may read the system's files, SandboxReadOnlyPaths (what ffmpeg
// may read too, e.g. a custom build's libraries) and the probed file's
// directory, nothing else; it may write nothing, and has no network. So a
// hostile playlist among the outputs can't make it open another command's
// files, or anything else of the engine's, even if media's reference check
// misses a trick.
type ffprobeRunner struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	decided bool
	sandbox *sandboxRunner // nil once decided: run ffprobe directly
	err     error          // why ffprobe can't be run at all
}

// ffprobeRunner returns the Prober's runner, which New set up.
func (e *Engine) ffprobeRunner() *ffprobeRunner {
	return e.prober.Runner.(*ffprobeRunner)
}

// decide settles how ffprobe runs: in runner's sandbox, or directly (nil).
func (r *ffprobeRunner) decide(runner *sandboxRunner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decided, r.sandbox, r.err = true, runner, nil
}

// how returns the sandbox to run ffprobe in (nil: run it directly),
// settling it with the same rules as chooseRunner if Start has not: a
// probe must never run unsandboxed just because it came first.
func (r *ffprobeRunner) how(ctx context.Context) (*sandboxRunner, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.decided {
		return r.sandbox, r.err
	}
	if r.cfg.Runner != nil || r.cfg.UnsafeNoSandbox {
		r.decided = true
		return nil, nil
	}
	// Probes wait here while this runs (normally tens of milliseconds,
	// once per process): none may run before it is known to be safe.
	mode, err := sandbox.Probe(ctx, r.cfg.FFprobePath, r.cfg.WorkDir)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // not the host's answer: ask again next time
		}
		r.decided = true
		r.err = fmt.Errorf("%w: ffprobe can't be sandboxed on this host, and the engine won't run it unsandboxed "+
			"(set Config.UnsafeNoSandbox to allow that): %v", errSandbox, err)
		r.log.Error("ffprobe can't run: no sandbox", "err", err)
		return nil, r.err
	}
	r.decided = true
	r.sandbox = &sandboxRunner{mode: mode, readOnly: r.cfg.SandboxReadOnlyPaths}
	r.log.Info("ffprobe runs sandboxed", "mode", mode.String())
	return r.sandbox, nil
}

// check runs "ffprobe -version" in runner's sandbox, as probes will run.
func (r *ffprobeRunner) check(ctx context.Context, runner sandboxRunner) error {
	dir, err := os.MkdirTemp(r.cfg.WorkDir, "ffprobe-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := r.runSandboxed(ctx, runner, media.FFprobeCommand{
		Path:           r.cfg.FFprobePath,
		Args:           []string{"-hide_banner", "-version"},
		Dir:            dir,
		Env:            []string{"PATH=/usr/bin:/bin"},
		MaxStdoutBytes: 4 << 10,
		MaxStderrBytes: 4 << 10,
	})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 || !bytes.HasPrefix(res.Stdout, []byte("ffprobe version")) {
		return fmt.Errorf("exit status %d: %s", res.ExitCode, strings.TrimSpace(string(res.StderrTail)))
	}
	return nil
}

// RunFFprobe implements media.FFprobeRunner.
func (r *ffprobeRunner) RunFFprobe(ctx context.Context, cmd media.FFprobeCommand) (media.FFprobeResult, error) {
	runner, err := r.how(ctx)
	if err != nil {
		return media.FFprobeResult{}, err
	}
	if runner == nil {
		return media.ExecFFprobe{}.RunFFprobe(ctx, cmd)
	}
	return r.runSandboxed(ctx, *runner, cmd)
}

// runSandboxed runs cmd in runner's sandbox with cmd.Dir readable and
// nothing writable. The Prober's ctx carries the timeout; the CPU limit is
// the kernel's backstop for it.
func (r *ffprobeRunner) runSandboxed(ctx context.Context, runner sandboxRunner, cmd media.FFprobeCommand) (media.FFprobeResult, error) {
	stdout := &headBuffer{max: cmd.MaxStdoutBytes}
	res, err := runner.run(ctx, RunSpec{
		Path:            cmd.Path,
		Args:            cmd.Args,
		Dir:             cmd.Dir,
		Env:             cmd.Env,
		StderrTailBytes: cmd.MaxStderrBytes,
		MaxCPUSeconds:   cpuSecondsFor(ffprobeTimeout),
		MaxMemoryBytes:  r.cfg.MaxMemoryBytes,
		MaxProcesses:    r.cfg.MaxProcesses,
		// Nothing to write: ffprobe's answer comes through the stdout pipe,
		// which Landlock does not restrict.
		Writable: nil,
	}, stdout)
	if err != nil {
		return media.FFprobeResult{}, err
	}
	return media.FFprobeResult{
		Stdout:          stdout.buf,
		StdoutTruncated: stdout.overflowed,
		StderrTail:      res.StderrTail,
		ExitCode:        res.ExitCode,
		Signal:          res.Signal,
	}, nil
}

// headBuffer keeps the first max bytes written to it and discards the rest
// while still accepting writes, so the program never blocks on a full pipe.
// os/exec writes to it from one goroutine and the caller reads it only
// after Wait.
type headBuffer struct {
	max        int
	buf        []byte
	overflowed bool
}

func (b *headBuffer) Write(p []byte) (int, error) {
	room := b.max - len(b.buf)
	if len(p) > room {
		b.overflowed = true
		if room > 0 {
			b.buf = append(b.buf, p[:room]...)
		}
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}
