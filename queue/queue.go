// Package queue carries the ids of accepted commands to the workers that run
// them.
//
// A queue only carries hints. The state store is the source of truth: a
// worker that pops an id still has to claim the command in the store, which
// fails harmlessly for a command that another worker already claimed or that
// has finished. That is why a queue may deliver an id more than once, and why
// a lost id costs only time: the engine's recovery sweep finds every command
// that is claimable in the store and pushes it again.
//
// Memory, the default, lives in the engine's process. Queues that reach
// workers in other processes (over Postgres or a message broker) implement
// the same interface and pass the same suite, queue/queuetest.
package queue

import (
	"context"
	"errors"
)

// ErrClosed is returned by Push and Pop once the queue is closed.
var ErrClosed = errors.New("queue: closed")

// Queue hands command ids from producers to workers.
type Queue interface {
	// Push makes id available to a worker. Callers push only after the
	// command is durable in the store.
	Push(ctx context.Context, id string) error
	// Pop blocks until an id is available, ctx is done (returning
	// ctx.Err()) or the queue is closed (ErrClosed). Each Pop wakes on a
	// Push; there is no polling.
	Pop(ctx context.Context) (string, error)
	// Close wakes every blocked Pop with ErrClosed.
	Close() error
}

// StoreFed is implemented by a queue that the state store fills itself, in
// the transaction that records a command (store/postgres's Queue). The
// engine does not push the commands it submits to such a queue when
// FedByStore reports true; its recovery sweeps still push.
type StoreFed interface {
	FedByStore() bool
}
