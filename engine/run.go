package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
	"github.com/openrender/openrender/template/policy"
)

// Why a run stopped before it finished: the engine is shutting down (release
// the command for the next engine), or the lease was lost (another worker has
// the command now: leave it alone).
var (
	errShutdown  = errors.New("engine shutting down")
	errLeaseLost = errors.New("lease lost")
)

// claim is one worker's hold on one command, for one attempt.
type claim struct {
	cmd   *store.Command
	lease store.Lease // Owner is a token unique to this claim
	log   *slog.Logger
	dir   string // this attempt's own work dir
}

// claimAndRun claims the command and, if the claim succeeds, runs it to an
// outcome. A failed claim (someone else has it, or it is finished) is normal:
// the queue only carries hints.
func (e *Engine) claimAndRun(runCtx context.Context, id string) {
	lease := e.newLease()
	cmd, err := e.cfg.Store.ClaimCommand(runCtx, id, lease)
	if errors.Is(err, store.ErrAccountBusy) {
		e.deferForAccount(runCtx, id)
		return
	}
	if err != nil {
		if !errors.Is(err, store.ErrNotClaimable) && !errors.Is(err, store.ErrNotFound) && runCtx.Err() == nil {
			e.log.Error("claim failed", "command_id", id, "err", err)
		}
		return
	}
	e.runClaimed(runCtx, cmd, lease)
}

// newLease is the lease of a claim made now.
func (e *Engine) newLease() store.Lease {
	now := e.cfg.Now()
	// The owner is unique to this claim, not just to this process: if this
	// worker stalls past its lease and another worker of the same process
	// claims the command, the stale one must not act on the new claim.
	return store.Lease{Owner: e.cfg.NodeID + "/" + randomToken(), Node: e.cfg.NodeID, Now: now, ExpiresAt: now.Add(e.cfg.LeaseDuration),
		MaxRunningPerAccount: e.maxRunningPerAccount()}
}

// runClaimed runs a command this worker has claimed under lease.
func (e *Engine) runClaimed(runCtx context.Context, cmd *store.Command, lease store.Lease) {
	c := &claim{
		cmd:   cmd,
		lease: lease,
		log:   e.log.With("command_id", cmd.ID, "account_id", cmd.AccountID),
		dir:   filepath.Join(e.runsDir(), cmd.ID+"."+strconv.Itoa(cmd.Attempts)),
	}
	// However the run ends, the account has a free place again.
	defer e.wakeAccount(cmd.AccountID)
	if cmd.LostLeases >= e.cfg.MaxWorkerLosses {
		c.log.Error("command lost its worker too many times; failing it", "lost", cmd.LostLeases)
		e.finish(c, store.Outcome{
			Status:      store.StatusFailed,
			ErrorStatus: ErrorWorkerLost,
			ErrorMessage: fmt.Sprintf("the command's worker stopped responding %d times (it may crash or exhaust the machine); it will not be run again",
				cmd.LostLeases),
		}, 0)
		return
	}
	if cmd.LostLeases > 0 {
		c.log.Warn("taking over a command whose worker was lost", "lost", cmd.LostLeases)
	}

	// The heartbeat runs until the outcome is recorded (or the command
	// released), not only while ffmpeg runs: recording can take retries.
	// If the lease is lost it cancels the run with errLeaseLost.
	ctx, cancelRun := context.WithCancelCause(context.Background())
	defer cancelRun(nil)
	defer e.trackRun(cmd.ID, cancelRun)()
	stopOnShutdown := context.AfterFunc(runCtx, func() { cancelRun(errShutdown) })
	defer stopOnShutdown()
	hbCtx, stopHeartbeat := context.WithCancel(context.Background())
	heartbeatDone := make(chan struct{})
	go func() {
		defer close(heartbeatDone)
		e.heartbeat(hbCtx, c, cancelRun)
	}()
	defer func() {
		stopHeartbeat()
		<-heartbeatDone
	}()

	e.commandChanged(cmd.ID) // QUEUED → PROCESSING
	if !cmd.CancelRequestedAt.IsZero() {
		// Cancelled while its earlier worker had it (that worker died or
		// shut down): it does not run again.
		c.log.Info("command cancelled before this attempt started")
		e.finish(c, cancelledOutcome(), 0)
		return
	}
	c.log.Info("command started", "attempt", cmd.Attempts)
	outcome, ffmpegTime, runErr := e.run(ctx, c)
	switch {
	case errors.Is(context.Cause(ctx), errLeaseLost):
		c.log.Warn("lease lost while running; another worker owns the command now")
		e.discardOutputs(c, outcome.Files)
	case runErr != nil && errors.Is(context.Cause(ctx), errCancelled):
		// ffmpeg was killed and the work dir removed by run; outputs
		// already uploaded were deleted by storeOutputs.
		c.log.Info("command cancelled while it ran", "ffmpeg_seconds", roundSeconds(ffmpegTime))
		e.finish(c, cancelledOutcome(), ffmpegTime)
	case runErr != nil: // interrupted by shutdown
		e.release(c)
	default:
		e.finish(c, outcome, ffmpegTime)
	}
}

// heartbeat renews the lease until ctx ends. If the lease is lost, or can't
// be renewed in time (the store is unreachable, so another worker may take
// the command over once it expires), it cancels the run before it expires.
func (e *Engine) heartbeat(ctx context.Context, c *claim, cancelRun context.CancelCauseFunc) {
	expires := c.lease.ExpiresAt
	t := time.NewTicker(e.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := e.cfg.Now()
		l := c.lease
		l.Now, l.ExpiresAt = now, now.Add(e.cfg.LeaseDuration)
		err := e.cfg.Store.RenewLease(ctx, c.cmd.ID, l)
		switch {
		case err == nil:
			expires = l.ExpiresAt
		case errors.Is(err, store.ErrLeaseLost):
			cancelRun(errLeaseLost)
			return
		case ctx.Err() != nil:
			return
		default:
			c.log.Warn("lease renewal failed; retrying", "err", err)
			// Give up while the lease still holds, not after: by the next
			// tick another worker may already own the command.
			if !e.cfg.Now().Add(e.cfg.HeartbeatInterval).Before(expires) {
				cancelRun(errLeaseLost)
				return
			}
		}
	}
}

// run does the work of one claimed command and returns its outcome (which
// FinishCommand records) and how long ffmpeg ran. A non-nil error means the
// run was interrupted (ctx ended) and has no outcome.
func (e *Engine) run(ctx context.Context, c *claim) (store.Outcome, time.Duration, error) {
	cmd, log, dir := c.cmd, c.log, c.dir
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
		// No engine path reaches a user, whatever produced the message.
		msg := scrubPaths(re.message, dir, e.cfg.WorkDir)
		return store.Outcome{Status: store.StatusFailed, ErrorStatus: re.status, ErrorMessage: msg}, ffmpegTime, nil
	}

	for _, sub := range []string{inDir, outDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fail(fmt.Errorf("create work dir: %w", err))
		}
	}
	tmpl, err := template.Parse(template.Spec{
		Commands:     cmd.Spec.FFmpegCommands,
		CommandField: specCommandField(cmd),
		InputFiles:   cmd.Spec.InputFiles,
		OutputFiles:  cmd.Spec.OutputFiles,
	})
	if err != nil {
		// It was valid at submit; only a change in the rules since then
		// gets here.
		return fail(failf(ErrorInternal, "the stored command no longer passes validation: %v", err))
	}
	// The allow-list again, as it is now: a command accepted under older
	// rules (or written by an older engine sharing the store) must not run
	// what this engine refuses.
	if problems := policy.Check(tmpl, specCommandField(cmd)); len(problems) > 0 {
		return fail(failf(ErrorInternal, "the stored command no longer passes validation: %v", problems))
	}

	phase := time.Now()
	paths, err := e.downloadInputs(ctx, dir, cmd.AccountID, cmd.Spec.InputFiles)
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
	argvs, err := stepArgvs(tmpl, paths)
	if err != nil {
		return fail(err)
	}
	// Which argv words are the command's own files, for the progress
	// estimate: inputs, outputs, and a chain's intermediates (tmp/…),
	// which a later step may read.
	filePaths, outputPaths := map[string]bool{}, map[string]bool{}
	for alias, p := range paths {
		filePaths[p] = true
		if _, ok := cmd.Spec.OutputFiles[alias]; ok {
			outputPaths[p] = true
		}
	}
	for _, argv := range argvs {
		for _, word := range argv {
			if strings.HasPrefix(word, tmpDir+"/") {
				filePaths[word] = true
			}
		}
	}
	progress := e.newProgressTracker(c, len(tmpl.Steps))
	defer progress.stop()
	for step, argv := range argvs {
		progress.startStep(ctx, step, argv, dir, filePaths, outputPaths)
		took, err := e.runFFmpeg(ctx, dir, argv, timeout-ffmpegTime, cmd.Spec.InputFiles, paths, progress.output())
		ffmpegTime += took
		if err != nil {
			return fail(stepError(err, step, len(tmpl.Steps)))
		}
	}
	progress.complete()

	phase = time.Now()
	files, err := e.storeOutputs(ctx, c)
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
func (e *Engine) finish(c *claim, o store.Outcome, ffmpegTime time.Duration) {
	o.FinishedAt = e.cfg.Now()
	o.TotalProcessingSeconds = roundSeconds(o.FinishedAt.Sub(c.lease.Now))
	o.FFmpegRunSeconds = roundSeconds(ffmpegTime)
	if o.FFmpegRunSeconds > o.TotalProcessingSeconds {
		o.TotalProcessingSeconds = o.FFmpegRunSeconds
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.LeaseDuration)
	defer cancel()
	// The webhook event is stored with the outcome, in one transaction.
	a := e.announce(ctx, c, o)
	o.Event = a.webhook
	for attempt := 0; ; attempt++ {
		err := e.cfg.Store.FinishCommand(ctx, c.cmd.ID, c.lease.Owner, o)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrLeaseLost) || ctx.Err() != nil {
			c.log.Error("could not record the command's result; another worker will run it again", "err", err)
			e.discardOutputs(c, o.Files)
			return
		}
		c.log.Warn("recording the result failed; retrying", "err", err)
		sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond)
	}
	e.commandChanged(c.cmd.ID)
	e.metrics.finishedCommand(o)
	e.metrics.ranFFmpeg(ffmpegTime)
	e.announced(c, a)
	if o.Status == store.StatusSuccess {
		c.log.Info("command succeeded", "seconds", o.TotalProcessingSeconds, "ffmpeg_seconds", o.FFmpegRunSeconds)
	} else {
		c.log.Info("command failed", "error_status", o.ErrorStatus, "error_message", o.ErrorMessage)
	}
}

// release hands an interrupted command back to the queue for the next engine.
func (e *Engine) release(c *claim) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.cfg.Store.ReleaseCommand(ctx, c.cmd.ID, c.lease.Owner, e.cfg.Now()); err != nil {
		c.log.Warn("could not release the command; it runs again when its lease expires", "err", err)
		return
	}
	e.commandChanged(c.cmd.ID)
	c.log.Info("command released for another engine to run")
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// scrubPaths keeps the engine's own directories out of messages shown to
// users: a path inside one becomes relative, the directory itself "…".
func scrubPaths(s string, dirs ...string) string {
	for _, d := range dirs {
		s = strings.ReplaceAll(s, d+string(os.PathSeparator), "")
		s = strings.ReplaceAll(s, d, "…")
	}
	return s
}

// discardOutputs deletes the objects an attempt uploaded but could not
// record. Their keys are unique to the attempt, so they can't be another
// attempt's; and one the store did record after all (a commit whose answer
// was lost) is kept.
func (e *Engine) discardOutputs(c *claim, files []*store.File) {
	if len(files) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recorded := map[string]bool{}
	if got, err := e.cfg.Store.CommandFiles(ctx, c.cmd.ID); err == nil {
		for _, f := range got {
			recorded[f.BlobKey] = true
		}
	} else {
		c.log.Warn("could not check which outputs were recorded; keeping them all", "err", err)
		return
	}
	var unrecorded []*store.File
	for _, f := range files {
		if !recorded[f.BlobKey] {
			unrecorded = append(unrecorded, f)
		}
	}
	e.deleteBlobs(ctx, unrecorded, c.log)
}

func (e *Engine) deleteBlobs(ctx context.Context, files []*store.File, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.deleteFileBytes(ctx, f); err != nil {
				log.Warn("could not delete an unrecorded output", "key", f.BlobKey, "err", err)
			}
		}()
	}
	wg.Wait()
}

// randomToken returns 8 random bytes in hex.
func randomToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
