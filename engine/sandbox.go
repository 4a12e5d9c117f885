package engine

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/openrender/openrender/internal/sandbox"
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
	res, err := runProcess(ctx, spec, func(ctx context.Context) (*exec.Cmd, error) {
		return sandbox.Command(ctx, sandbox.Spec{
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
// falls back to running unsandboxed on its own.
func (e *Engine) chooseRunner(ctx context.Context) (Runner, error) {
	if e.cfg.Runner != nil {
		e.log.Info("ffmpeg runs through the Runner given in Config; the engine's sandbox is not used")
		return e.cfg.Runner, nil
	}
	if e.cfg.UnsafeNoSandbox {
		e.log.Warn("UNSAFE: running ffmpeg WITHOUT a sandbox (--unsafe-no-sandbox): a command can read any file this process can, " +
			"reach the network and other services, and read other commands' files. Use only with trusted commands.")
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
	return sandboxRunner{mode: mode, readOnly: e.cfg.SandboxReadOnlyPaths}, nil
}

// writableDirs are the parts of a command's work dir ffmpeg may write.
func writableDirs(dir string) []string {
	return []string{filepath.Join(dir, outDir), filepath.Join(dir, tmpDir)}
}
