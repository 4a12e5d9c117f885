package store

import (
	"context"
	"time"
)

// This file holds the store's part of the contract's extensions: progress
// and cancellation of running commands, idempotent submits, and the counts
// the metrics endpoint reports. Every method is a conditional write or a
// plain read, so several engine processes sharing one store can call them
// without coordinating.

// Progress is how far a PROCESSING command has come, as its worker last
// recorded it.
type Progress struct {
	// Percent is 0 to 100.
	Percent float64
	// ETASeconds is the estimated time left, when the worker has one.
	ETASeconds *float64
	// At is when the worker measured it.
	At time.Time
}

// CommandControl is what a worker and the API need beyond Commands to show
// progress and to cancel commands.
//
// Who may call what:
//   - SetProgress: only the worker holding the command's lease.
//   - RequestCancel, CancelQueuedCommand: anyone (the API, on any process).
//   - CancelRequestedCommands: an engine process, about its own node, to
//     find cancel requests made through another process.
//
// A claim (ClaimCommand) clears the progress of an earlier attempt, and the
// Command it returns carries CancelRequestedAt, so a worker that claims a
// command whose cancel was requested (its first worker died, or shut down
// and released it) finishes it as cancelled without running it.
type CommandControl interface {
	// SetProgress records p for a PROCESSING command whose lease owner
	// holds; otherwise ErrLeaseLost and nothing is written. It does not
	// change UpdatedAt (progress is not a change of state).
	SetProgress(ctx context.Context, id, owner string, p Progress) error
	// RequestCancel marks a PROCESSING command for cancellation at now
	// (a second request keeps the first time). ErrNotFound for an unknown
	// id; ErrConflict when the command is not PROCESSING (a QUEUED one is
	// cancelled with CancelQueuedCommand, a finished one can't be).
	RequestCancel(ctx context.Context, id string, now time.Time) error
	// CancelQueuedCommand finishes a QUEUED command with o (a FAILED
	// outcome; o.Files must be empty) and inserts o.Event, in one
	// transaction, so the command never runs and its webhook fires once.
	// ErrNotFound for an unknown id; ErrConflict when it is not QUEUED
	// (a worker claimed it meanwhile: request the cancel instead).
	CancelQueuedCommand(ctx context.Context, id string, o Outcome) error
	// CancelRequestedCommands returns the ids of the PROCESSING commands
	// whose lease node holds and whose cancel has been requested.
	CancelRequestedCommands(ctx context.Context, node string) ([]string, error)
	// CountUnfinishedCommands counts the QUEUED and the PROCESSING
	// commands of every account (for metrics; it must be cheap, i.e. use an
	// index on unfinished commands).
	CountUnfinishedCommands(ctx context.Context) (queued, processing int, err error)
}

// IdempotencyRecord is what the store keeps about one Idempotency-Key of one
// account: who is answering the first request with that key, and then the
// answer, replayed to every later request with the same key and body.
type IdempotencyRecord struct {
	AccountID string
	Key       string
	// Owner is a token unique to the request that reserved the key; only
	// it may complete or release the reservation.
	Owner string
	// LockedUntil bounds a reservation whose answer is not in yet: past it
	// the reserving request is presumed dead and the key may be reserved
	// again.
	LockedUntil time.Time
	CreatedAt   time.Time

	// Completed is set once the answer is stored; the fields below are
	// meaningful only then.
	Completed bool
	// RequestHash identifies the first request (method, path and body).
	RequestHash []byte
	StatusCode  int
	ContentType string
	Body        []byte
}

// Idempotency stores Idempotency-Key records.
//
// A request with a key calls ReserveIdempotencyKey before doing anything.
// If it got the reservation it does its work, then CompleteIdempotencyKey
// (or, for an answer not worth replaying, ReleaseIdempotencyKey). Any other
// request with the same key gets the existing record: a completed one is
// replayed (same request hash) or refused (another hash); a pending one is
// waited for. All methods are conditional writes on Owner, so two
// processes can never both run a request for one key.
type Idempotency interface {
	// ReserveIdempotencyKey writes r (pending: Completed false) unless the
	// account already has a record for r.Key that was created after
	// expiredBefore and is either completed or pending with LockedUntil
	// after r.CreatedAt. It returns nil when r now holds the key, else the
	// record that holds it.
	ReserveIdempotencyKey(ctx context.Context, r *IdempotencyRecord, expiredBefore time.Time) (*IdempotencyRecord, error)
	// CompleteIdempotencyKey stores the answer of the reservation r.Owner
	// holds (r.RequestHash, StatusCode, ContentType, Body). ErrLeaseLost if
	// it no longer holds it.
	CompleteIdempotencyKey(ctx context.Context, r *IdempotencyRecord) error
	// ReleaseIdempotencyKey deletes the pending reservation owner holds,
	// so that the key can be used again. It is a no-op otherwise.
	ReleaseIdempotencyKey(ctx context.Context, accountID, key, owner string) error
	// GetIdempotencyKey returns the account's record for key, or ErrNotFound.
	GetIdempotencyKey(ctx context.Context, accountID, key string) (*IdempotencyRecord, error)
	// DeleteIdempotencyKeysBefore deletes up to limit records created
	// before cutoff and returns how many it deleted.
	DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int, error)
}
