package engine

import (
	"context"
	"time"
)

// DefaultIdempotencyTTL is how long an Idempotency-Key's first answer is
// replayed: a request with the same key and body within this time gets it
// again and creates nothing. Older records are deleted by the file sweep.
const DefaultIdempotencyTTL = 24 * time.Hour

// idempotencySweepPage is how many expired records one store call deletes.
const idempotencySweepPage = 1000

// expireIdempotencyKeys deletes Idempotency-Key records past
// Config.IdempotencyTTL. It runs with the file sweep, in every started
// engine; deleting is idempotent, so several processes may do it at once.
func (e *Engine) expireIdempotencyKeys(ctx context.Context) error {
	cutoff := e.cfg.Now().Add(-e.cfg.IdempotencyTTL)
	total := 0
	for {
		n, err := e.cfg.Store.DeleteIdempotencyKeysBefore(ctx, cutoff, idempotencySweepPage)
		if err != nil {
			return err
		}
		total += n
		if n < idempotencySweepPage {
			break
		}
	}
	if total > 0 {
		e.log.Debug("deleted expired idempotency keys", "keys", total)
	}
	return nil
}
