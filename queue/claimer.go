package queue

import (
	"context"

	"github.com/openrender/openrender/store"
)

// Claimer is implemented by a queue that lives in the state store itself
// (store/postgres's Queue) and so can take an id and claim its command in
// one step, one round trip to the database instead of a Pop and then a
// store.Commands.ClaimCommand. The engine's workers use PopClaim when the
// queue offers it. Ownership is still decided by the store, under the same
// rules as ClaimCommand: the lease, and the per-account cap.
type Claimer interface {
	// PopClaim blocks like Pop until it has taken an id and claimed its
	// command under the lease newLease returns (called just before each
	// attempt, so the lease's Now is the time of the claim). Ids whose
	// command can't be claimed (finished, or held by a live lease) are
	// dropped, as a failed ClaimCommand drops them, and the next is taken.
	// If the command's account is at the lease's MaxRunningPerAccount, it
	// returns the id and store.ErrAccountBusy: the command stays QUEUED,
	// out of the queue, until the caller pushes it again.
	PopClaim(ctx context.Context, newLease func() store.Lease) (Claimed, error)
}

// Claimed is what PopClaim took.
type Claimed struct {
	ID      string
	Lease   store.Lease    // the lease the command was claimed under
	Command *store.Command // nil with store.ErrAccountBusy
}
