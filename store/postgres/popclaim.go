package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/store"
)

// popJobCTE deletes the first queue row no other worker is taking, as
// popSQL does, and names the id it took p.
const popJobCTE = `p AS (DELETE FROM queue_jobs
	WHERE id = (SELECT id FROM queue_jobs ORDER BY queued_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING id)`

// claimSQLFor is claimSQL (the one definition of what a claim is) with the
// command id ($5) taken from idExpr and the cap moved from $6 to $5.
func claimSQLFor(idExpr string) string {
	if strings.Count(claimSQL, "$5") != 1 || strings.Count(claimSQL, "$6") != 2 {
		panic("postgres: claimSQL's parameters changed; update claimSQLFor")
	}
	return strings.NewReplacer("$5", idExpr, "$6", "$5").Replace(claimSQL)
}

// popClaimSQL pops and claims in one statement, so in one implicit
// transaction: the queue row is gone if and only if the claim was tried.
//
// Its commit does not wait for the disk (synchronous_commit off for this
// transaction only), which more than doubles the claims per second: a
// claim is worth nothing outside the store until the worker's next durable
// write, and every later write the worker makes (RenewLease, FinishCommand,
// ReleaseCommand) is durable, flushing the claim's commit with it. If the
// database crashes first, pop and claim are lost together: the command is
// QUEUED with its queue row again, the worker's heartbeat or finish gets
// ErrLeaseLost and stops the run, and another worker runs the command. The
// store still decides who owns it, and no outcome is recorded twice.
// It returns no row if the queue was empty, else the popped id followed by
// the claimed command's columns (NULL when the command was not claimable).
var popClaimSQL = `WITH ` + popJobCTE + `,
	c AS (` + claimSQLFor(`(SELECT id FROM p)`) + `)
	SELECT p.id, c.* FROM p LEFT JOIN c ON true
		CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS async`

// With a per-account cap, the claim must count the account's running
// commands after taking the account's advisory lock (see ClaimCommand), so
// in a later statement than the one that takes the lock. The two run as
// one batch: one round trip, one implicit transaction. The first pops,
// locks the popped command's account and hands the id to the second in a
// transaction-local setting.
const (
	popLockSQL = `WITH ` + popJobCTE + `
	SELECT p.id, set_config('openrender.claim_id', p.id, true), set_config('synchronous_commit', 'off', true),
		pg_advisory_xact_lock(` + accountLockClass + `, hashtext(c.account_id))::text
	FROM p LEFT JOIN commands AS c ON c.id = p.id`
)

var claimPoppedSQL = claimSQLFor(`current_setting('openrender.claim_id', true)`)

// PopClaim implements queue.Claimer: one round trip pops an id and claims
// its command, where Pop then ClaimCommand take three (the pool hands out
// the connection once, too).
func (q *Queue) PopClaim(ctx context.Context, newLease func() store.Lease) (queue.Claimed, error) {
	var got queue.Claimed
	var took error
	err := q.wait(ctx, func() (bool, error) {
		for {
			l := newLease()
			id, cmd, err := q.popClaim(ctx, l)
			switch {
			case err != nil:
				return false, err
			case id == "":
				return false, nil // empty: wait
			case cmd != nil:
				got = queue.Claimed{ID: id, Lease: l, Command: cmd}
				return true, nil
			case l.MaxRunningPerAccount > 0:
				// Not claimed: finished, leased, or its account is busy.
				if why := q.s.whyNotClaimed(ctx, id, micros(l.Now)); errors.Is(why, store.ErrAccountBusy) {
					got, took = queue.Claimed{ID: id, Lease: l}, why
					return true, nil
				}
			}
			// A stale hint: take the next at once.
		}
	})
	if err != nil {
		return queue.Claimed{}, err
	}
	return got, took
}

// popClaim runs one pop and claim. id is "" if the queue was empty; cmd is
// nil if the popped id's command was not claimed.
func (q *Queue) popClaim(ctx context.Context, l store.Lease) (id string, cmd *store.Command, err error) {
	args := []any{l.Owner, l.Node, micros(l.ExpiresAt), micros(l.Now), l.MaxRunningPerAccount}
	var rows pgx.Rows
	var br pgx.BatchResults
	if l.MaxRunningPerAccount <= 0 {
		rows, err = q.s.pool.Query(ctx, popClaimSQL, args...)
		if err != nil {
			return "", nil, fmt.Errorf("postgres queue: pop and claim: %w", err)
		}
		defer rows.Close()
		if !rows.Next() {
			return "", nil, rows.Err()
		}
		raw := rows.RawValues()
		id = string(raw[0])
		if raw[1] == nil {
			return id, nil, nil
		}
		cmd, err = scanCommand(skipFirst{rows})
		if err != nil {
			return "", nil, fmt.Errorf("postgres queue: pop and claim: %w", err)
		}
		rows.Close()
		return id, cmd, rows.Err()
	}

	b := &pgx.Batch{}
	b.Queue(popLockSQL)
	b.Queue(claimPoppedSQL, args...)
	br = q.s.pool.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			id, cmd, err = "", nil, fmt.Errorf("postgres queue: pop and claim: %w", cerr)
		}
	}()
	if err := br.QueryRow().Scan(&id, nil, nil, nil); errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	} else if err != nil {
		return "", nil, fmt.Errorf("postgres queue: pop: %w", err)
	}
	cmd, err = scanCommand(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return id, nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("postgres queue: claim: %w", err)
	}
	return id, cmd, nil
}

// skipFirst scans a row's columns after the first into scanCommand's
// destinations.
type skipFirst struct{ rows pgx.Rows }

func (r skipFirst) Scan(dest ...any) error { return r.rows.Scan(append([]any{nil}, dest...)...) }
