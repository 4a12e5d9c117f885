package engine

import (
	"context"
	"errors"
	"time"

	"github.com/openrender/openrender/store"
)

// ErrCommandFinished: the command reached SUCCESS or FAILED before it
// could be cancelled.
var ErrCommandFinished = errors.New("engine: the command has already finished")

// errCancelled is the cause a cancelled run's context ends with.
var errCancelled = errors.New("command cancelled")

// CancelWait is how long Cancel waits for a PROCESSING command to reach its
// final state before it answers with the command still PROCESSING (its
// cancel is recorded and happens as soon as its worker sees it).
const CancelWait = 5 * time.Second

// Cancel stops one of the account's commands. A QUEUED command ends FAILED
// with error_status CANCELLED at once and never runs. For a PROCESSING one
// the cancel is recorded in the store and its worker, in this process or
// another, kills ffmpeg, removes its partial outputs and finishes it
// FAILED/CANCELLED; Cancel waits up to CancelWait for that and returns the
// command as it then is. Either way the command's webhook fires once, as
// for any finished command. A command that had already finished is
// ErrCommandFinished (returned with the command).
func (e *Engine) Cancel(ctx context.Context, accountID, id string) (*CommandInfo, error) {
	// A command moves on while we look at it (claimed, finished): each
	// conditional write that fails on a status change means look again.
	for range 10 {
		c, err := e.Get(ctx, accountID, id)
		if err != nil {
			return nil, err
		}
		switch c.Status {
		case store.StatusSuccess, store.StatusFailed:
			return c, ErrCommandFinished
		case store.StatusQueued:
			err := e.cancelQueued(ctx, c.Command)
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, err
			}
			return e.Get(ctx, accountID, id)
		case store.StatusProcessing:
			err := e.cfg.Store.RequestCancel(ctx, id, e.cfg.Now())
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, err
			}
			e.log.Info("cancel requested", "command_id", id, "account_id", accountID)
			e.stopRun(id)        // if it runs here: at once
			e.commandChanged(id) // if it runs elsewhere: through Config.Signal, else within WatchInterval
			wctx, cancel := context.WithTimeout(ctx, CancelWait)
			done, err := e.Wait(wctx, accountID, id)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return e.Get(ctx, accountID, id)
			}
			if done.ErrorStatus != ErrorCancelled {
				return done, ErrCommandFinished // it finished first
			}
			return done, nil
		}
	}
	return nil, errors.New("engine: the command kept changing while it was being cancelled")
}

// cancelQueued finishes a QUEUED command as cancelled, with its webhook
// event, in one store write that only succeeds while it is still QUEUED.
func (e *Engine) cancelQueued(ctx context.Context, cmd *store.Command) error {
	c := &claim{cmd: cmd, log: e.log.With("command_id", cmd.ID, "account_id", cmd.AccountID)}
	o := store.Outcome{
		Status:       store.StatusFailed,
		ErrorStatus:  ErrorCancelled,
		ErrorMessage: "the command was cancelled before it started",
		FinishedAt:   e.cfg.Now(),
	}
	a := e.announce(ctx, c, o)
	o.Event = a.webhook
	if err := e.cfg.Store.CancelQueuedCommand(ctx, cmd.ID, o); err != nil {
		return err
	}
	e.commandChanged(cmd.ID)
	e.announced(c, a)
	e.metrics.finishedCommand(o)
	c.log.Info("command cancelled before it started")
	return nil
}

// cancelledOutcome is how a run stopped by a cancel ends.
func cancelledOutcome() store.Outcome {
	return store.Outcome{
		Status:       store.StatusFailed,
		ErrorStatus:  ErrorCancelled,
		ErrorMessage: "the command was cancelled while it ran; its partial outputs were removed",
	}
}

// trackRun registers a running command's cancel function, so that a cancel
// made in this process stops it at once. The returned func unregisters it.
func (e *Engine) trackRun(id string, cancel context.CancelCauseFunc) func() {
	e.runMu.Lock()
	e.running[id] = cancel
	e.runMu.Unlock()
	return func() {
		e.runMu.Lock()
		delete(e.running, id)
		e.runMu.Unlock()
	}
}

// stopRun cancels the command's run if it runs in this process.
func (e *Engine) stopRun(id string) bool {
	e.runMu.Lock()
	cancel, ok := e.running[id]
	e.runMu.Unlock()
	if ok {
		cancel(errCancelled)
	}
	return ok
}

func (e *Engine) isRunning(id string) bool {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	_, ok := e.running[id]
	return ok
}

func (e *Engine) runningCount() int {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	return len(e.running)
}

// checkCancels stops the commands running here whose cancel was requested
// through another process. It reads the store only while something runs.
func (e *Engine) checkCancels(ctx context.Context, _ ...string) error {
	if e.runningCount() == 0 {
		return nil
	}
	ids, err := e.cfg.Store.CancelRequestedCommands(ctx, e.cfg.NodeID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		e.stopRun(id)
	}
	return nil
}

// listenSignals wakes this process on other processes' changes.
func (e *Engine) listenSignals(ctx context.Context) {
	defer e.cancelWatch.Done()
	for ctx.Err() == nil {
		err := e.cfg.Signal.Subscribe(ctx, e.remoteChange)
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("command signal subscription ended; resubscribing", "err", err)
		sleepCtx(ctx, time.Second)
	}
}

// Running is how many commands run in this process now.
func (e *Engine) Running() int { return e.runningCount() }
