package engine

import (
	"context"
	"time"

	"github.com/openrender/openrender/store"
)

// CommandSignal carries "this command changed" (its status, its progress,
// or a cancel request) between the engine processes that share a store, so
// that watchers and workers in other processes wake at once instead of at
// their next store check. It is optional (Config.Signal): without it, a
// process notices another's changes through the store within
// WatchInterval. A Postgres store could implement it with LISTEN/NOTIFY,
// a broker with a fan-out subject.
//
// Signals are hints, like queue entries: a lost or repeated one only costs
// a store read or a delay, never correctness, since every reader goes back
// to the store.
type CommandSignal interface {
	// Publish announces that the command changed.
	Publish(ctx context.Context, commandID string) error
	// Subscribe calls fn with the id of every command any process
	// publishes, until ctx ends. It returns when ctx ends or the
	// subscription fails.
	Subscribe(ctx context.Context, fn func(commandID string)) error
}

// WatchInterval is how often a watcher (Watch, and a worker's check for
// cancel requests made through other processes) reads the store when no
// wake-up came: the bound on how late a change made by another engine
// process is seen when there is no Config.Signal.
const WatchInterval = time.Second

// commandChanged wakes this process's watchers of the command and tells
// other processes, through Config.Signal, if there is one.
func (e *Engine) commandChanged(id string) {
	e.changed.signal(id)
	if e.cfg.Signal == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.cfg.Signal.Publish(ctx, id); err != nil {
		e.log.Debug("could not publish a command change", "command_id", id, "err", err)
	}
}

// remoteChange is what a signal from another process does here: wake the
// command's watchers, and stop it if it runs here and a cancel was asked.
func (e *Engine) remoteChange(id string) {
	e.changed.signal(id)
	if e.isRunning(id) {
		e.checkCancels(context.Background(), id)
	}
}

// Watch calls fn with the command now and then each time its status or
// progress changes, until fn has been called with its final state (then
// Watch returns nil), ctx ends, or fn returns an error. Changes made in this
// process wake it at once; changes made by another process sharing the
// store within WatchInterval (at once with Config.Signal).
func (e *Engine) Watch(ctx context.Context, accountID, id string, fn func(*CommandInfo) error) error {
	var last *CommandInfo
	for {
		woke, done := e.changed.wait(id) // before reading, so no change is missed
		c, err := e.Get(ctx, accountID, id)
		if err != nil {
			done()
			return err
		}
		if last == nil || changedForWatchers(last.Command, c.Command) {
			if err := fn(c); err != nil {
				done()
				return err
			}
			last = c
		}
		if c.Status.Final() {
			done()
			return nil
		}
		t := time.NewTimer(WatchInterval)
		select {
		case <-ctx.Done():
		case <-woke:
		case <-t.C:
		}
		t.Stop()
		done()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// changedForWatchers tells whether b differs from a in what a watcher
// sees: status, or progress while PROCESSING.
func changedForWatchers(a, b *store.Command) bool {
	if a.Status != b.Status {
		return true
	}
	if (a.Progress == nil) != (b.Progress == nil) {
		return true
	}
	if a.Progress == nil {
		return false
	}
	if a.Progress.Percent != b.Progress.Percent {
		return true
	}
	if (a.Progress.ETASeconds == nil) != (b.Progress.ETASeconds == nil) {
		return true
	}
	return a.Progress.ETASeconds != nil && *a.Progress.ETASeconds != *b.Progress.ETASeconds
}
