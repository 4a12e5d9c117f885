package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// Why a run stopped before it finished: the engine is shutting down (release
// the command for the next engine), or the lease was lost (another worker has
// the command now: leave it alone).
var (
	errShutdown  = errors.New("engine shutting down")
	errLeaseLost = errors.New("lease lost")
)

// claimAndRun claims the command and, if the claim succeeds, runs it to an
// outcome. A failed claim (someone else has it, or it is finished) is normal:
// the queue only carries hints.
func (e *Engine) claimAndRun(runCtx context.Context, id string) {
	now := e.cfg.Now()
	lease := store.Lease{Owner: e.cfg.NodeID, Now: now, ExpiresAt: now.Add(e.cfg.LeaseDuration)}
	cmd, err := e.cfg.Store.ClaimCommand(runCtx, id, lease)
	if err != nil {
		if !errors.Is(err, store.ErrNotClaimable) && !errors.Is(err, store.ErrNotFound) && runCtx.Err() == nil {
			e.log.Error("claim failed", "command_id", id, "err", err)
		}
		return
	}
	log := e.log.With("command_id", cmd.ID, "account", cmd.AccountID)
	if cmd.LostLeases >= e.cfg.MaxWorkerLosses {
		log.Error("command lost its worker too many times; failing it", "lost", cmd.LostLeases)
		e.finish(cmd, log, now, store.Outcome{
			Status:      store.StatusFailed,
			ErrorStatus: ErrorWorkerLost,
			ErrorMessage: fmt.Sprintf("the command's worker stopped responding %d times (it may crash or exhaust the machine); it will not be run again",
				cmd.LostLeases),
		}, 0)
		return
	}
	if cmd.LostLeases > 0 {
		log.Warn("taking over a command whose worker was lost", "lost", cmd.LostLeases)
	}

	// ctx ends the run early: on shutdown (cause errShutdown) or when the
	// heartbeat finds the lease gone (cause errLeaseLost).
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stopOnShutdown := context.AfterFunc(runCtx, func() { cancel(errShutdown) })
	defer stopOnShutdown()
	heartbeatDone := make(chan struct{})
	go func() {
		defer close(heartbeatDone)
		e.heartbeat(ctx, cmd.ID, lease.ExpiresAt, cancel, log)
	}()

	log.Info("command started", "attempt", cmd.Attempts)
	claimed := now
	outcome, ffmpegTime, runErr := e.run(ctx, cmd, log)
	cancel(nil)
	<-heartbeatDone

	switch {
	case errors.Is(context.Cause(ctx), errLeaseLost):
		log.Warn("lease lost while running; another worker owns the command now")
		e.deleteBlobs(outcome.Files, log)
		return
	case runErr != nil: // interrupted by shutdown
		e.release(cmd, log)
		return
	}
	e.finish(cmd, log, claimed, outcome, ffmpegTime)
}

// heartbeat renews the lease until ctx ends. If the lease is lost, or can't
// be renewed before it expires (the store is unreachable, so another worker
// may take the command over), it cancels the run.
func (e *Engine) heartbeat(ctx context.Context, id string, expires time.Time, cancel context.CancelCauseFunc, log *slog.Logger) {
	t := time.NewTicker(e.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := e.cfg.Now()
		next := now.Add(e.cfg.LeaseDuration)
		err := e.cfg.Store.RenewLease(ctx, id, store.Lease{Owner: e.cfg.NodeID, Now: now, ExpiresAt: next})
		switch {
		case err == nil:
			expires = next
		case errors.Is(err, store.ErrLeaseLost):
			cancel(errLeaseLost)
			return
		case ctx.Err() != nil:
			return
		default:
			log.Warn("lease renewal failed; retrying", "err", err)
			if !e.cfg.Now().Before(expires) {
				cancel(errLeaseLost)
				return
			}
		}
	}
}

// run does the work of one claimed command and returns its outcome (which
// FinishCommand records) and how long ffmpeg ran. A non-nil error means the
// run was interrupted (ctx ended) and has no outcome.
func (e *Engine) run(ctx context.Context, cmd *store.Command, log *slog.Logger) (store.Outcome, time.Duration, error) {
	dir := filepath.Join(e.nodeWorkDir(), cmd.ID)
	// A previous attempt on this node may have left files behind.
	os.RemoveAll(dir)
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("could not remove work dir", "dir", dir, "err", err)
		}
	}()
	var ffmpegTime time.Duration
	fail := func(err error) (store.Outcome, time.Duration, error) {
		if ctx.Err() != nil {
			return store.Outcome{}, ffmpegTime, ctx.Err()
		}
		var re *runError
		if !errors.As(err, &re) {
			log.Error("internal error while running a command", "err", err)
			re = failf(ErrorInternal, "the engine hit an internal error while running the command; it was logged")
		}
		return store.Outcome{Status: store.StatusFailed, ErrorStatus: re.status, ErrorMessage: re.message}, ffmpegTime, nil
	}

	for _, sub := range []string{inDir, outDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fail(fmt.Errorf("create work dir: %w", err))
		}
	}
	tmpl, err := template.Parse(template.Spec{
		Commands:     cmd.Spec.FFmpegCommands,
		CommandField: "ffmpeg_command",
		InputFiles:   cmd.Spec.InputFiles,
		OutputFiles:  cmd.Spec.OutputFiles,
	})
	if err != nil {
		// It was valid at submit; only a change in the rules since then
		// gets here.
		return fail(failf(ErrorInternal, "the stored command no longer passes validation: %v", err))
	}

	phase := time.Now()
	paths, err := e.downloadInputs(ctx, dir, cmd.Spec.InputFiles)
	if err != nil {
		return fail(err)
	}
	downloaded := time.Since(phase)
	for alias, name := range cmd.Spec.OutputFiles {
		paths[alias] = outDir + "/" + name
	}

	timeout := time.Duration(cmd.Spec.MaxRunSeconds * float64(time.Second))
	if timeout <= 0 {
		timeout = e.cfg.DefaultRunTimeout
	}
	for step := range tmpl.Steps {
		argv, err := tmpl.Argv(step, paths)
		if err != nil {
			return fail(err)
		}
		took, err := e.runFFmpeg(ctx, dir, argv, timeout-ffmpegTime, cmd.Spec.InputFiles, paths)
		ffmpegTime += took
		if err != nil {
			return fail(err)
		}
	}

	phase = time.Now()
	files, err := e.storeOutputs(ctx, cmd, dir)
	if err != nil {
		return fail(err)
	}
	log.Debug("command phases", "download", downloaded, "ffmpeg", ffmpegTime, "store_outputs", time.Since(phase))
	return store.Outcome{Status: store.StatusSuccess, Files: files}, ffmpegTime, nil
}

// Work dir layout: inputs (written by the engine), outputs (written by
// ffmpeg) and a scratch dir that is ffmpeg's HOME and TMPDIR. Separate
// directories keep an output named like an input from overwriting it.
const (
	inDir  = "in"
	outDir = "out"
	tmpDir = "tmp"
)

// finish records the outcome, retrying while the store is unreachable: the
// result of a run is worth a few seconds of retries, and if they fail the
// lease expires and another worker runs the command again.
func (e *Engine) finish(cmd *store.Command, log *slog.Logger, claimed time.Time, o store.Outcome, ffmpegTime time.Duration) {
	o.FinishedAt = e.cfg.Now()
	o.TotalProcessingSeconds = roundSeconds(o.FinishedAt.Sub(claimed))
	o.FFmpegRunSeconds = roundSeconds(ffmpegTime)
	if o.FFmpegRunSeconds > o.TotalProcessingSeconds {
		o.TotalProcessingSeconds = o.FFmpegRunSeconds
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.LeaseDuration)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := e.cfg.Store.FinishCommand(ctx, cmd.ID, e.cfg.NodeID, o)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrLeaseLost) || ctx.Err() != nil {
			log.Error("could not record the command's result; another worker will run it again", "err", err)
			e.deleteBlobs(o.Files, log)
			return
		}
		log.Warn("recording the result failed; retrying", "err", err)
		sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond)
	}
	e.finished.signal(cmd.ID)
	if o.Status == store.StatusSuccess {
		log.Info("command succeeded", "seconds", o.TotalProcessingSeconds, "ffmpeg_seconds", o.FFmpegRunSeconds)
	} else {
		log.Info("command failed", "error_status", o.ErrorStatus, "error_message", o.ErrorMessage)
	}
}

// release hands an interrupted command back to the queue for the next engine.
func (e *Engine) release(cmd *store.Command, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.cfg.Store.ReleaseCommand(ctx, cmd.ID, e.cfg.NodeID, e.cfg.Now()); err != nil {
		log.Warn("could not release the command; it runs again when its lease expires", "err", err)
		return
	}
	log.Info("command released for another engine to run")
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// scrubPaths keeps the engine's own directories out of messages shown to users.
func scrubPaths(s, dir string) string {
	return strings.ReplaceAll(s, dir+string(os.PathSeparator), "")
}

func (e *Engine) deleteBlobs(files []*store.File, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := e.cfg.Storage.Delete(ctx, f.BlobKey); err != nil {
				log.Warn("could not delete an unrecorded output", "key", f.BlobKey, "err", err)
			}
		}()
	}
	wg.Wait()
}
