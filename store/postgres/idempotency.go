package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/store"
)

// ReserveIdempotencyKey implements store.Idempotency. The upsert either
// writes the reservation or locks the row that holds the key (ON CONFLICT
// locks the conflicting row even when its WHERE refuses the update), and
// the read that follows, a new statement of the same transaction, sees
// that row as committed: two processes reserving one key at once queue on
// the row lock, and only one of them ends up its owner.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord, expiredBefore time.Time) (*store.IdempotencyRecord, error) {
	now := micros(r.CreatedAt)
	var got *store.IdempotencyRecord
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (account_id, key, owner, locked_until, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (account_id, key) DO UPDATE SET
				owner = excluded.owner, locked_until = excluded.locked_until, created_at = excluded.created_at,
				completed = FALSE, request_hash = ''::bytea, status_code = 0, content_type = '', body = ''::bytea
			WHERE idempotency_keys.created_at <= $6
				OR (NOT idempotency_keys.completed AND idempotency_keys.locked_until <= $5)`,
			r.AccountID, r.Key, r.Owner, micros(r.LockedUntil), now, micros(expiredBefore)); err != nil {
			return err
		}
		var err error
		got, err = scanIdempotency(tx.QueryRow(ctx, idempotencySelect, r.AccountID, r.Key))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reserve idempotency key: %w", err)
	}
	if got.Owner == r.Owner && !got.Completed {
		return nil, nil
	}
	return got, nil
}

const idempotencySelect = `SELECT account_id, key, owner, locked_until, created_at, completed,
	request_hash, status_code, content_type, body FROM idempotency_keys WHERE account_id = $1 AND key = $2`

func scanIdempotency(row pgx.Row) (*store.IdempotencyRecord, error) {
	var r store.IdempotencyRecord
	var locked, created int64
	if err := row.Scan(&r.AccountID, &r.Key, &r.Owner, &locked, &created, &r.Completed,
		&r.RequestHash, &r.StatusCode, &r.ContentType, &r.Body); err != nil {
		return nil, err
	}
	r.LockedUntil, r.CreatedAt = fromMicros(locked), fromMicros(created)
	return &r, nil
}

// CompleteIdempotencyKey implements store.Idempotency.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord) error {
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	hash := r.RequestHash
	if hash == nil {
		hash = []byte{}
	}
	return s.ownedUpdate(ctx, `UPDATE idempotency_keys SET completed = TRUE, request_hash = $1, status_code = $2,
			content_type = $3, body = $4
		WHERE account_id = $5 AND key = $6 AND owner = $7 AND NOT completed`,
		hash, r.StatusCode, r.ContentType, body, r.AccountID, r.Key, r.Owner)
}

// ReleaseIdempotencyKey implements store.Idempotency.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, accountID, key, owner string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys
		WHERE account_id = $1 AND key = $2 AND owner = $3 AND NOT completed`, accountID, key, owner); err != nil {
		return fmt.Errorf("postgres: release idempotency key: %w", err)
	}
	return nil
}

// GetIdempotencyKey implements store.Idempotency.
func (s *Store) GetIdempotencyKey(ctx context.Context, accountID, key string) (*store.IdempotencyRecord, error) {
	r, err := scanIdempotency(s.pool.QueryRow(ctx, idempotencySelect, accountID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get idempotency key: %w", err)
	}
	return r, nil
}

// DeleteIdempotencyKeysBefore implements store.Idempotency. Rows another
// process is deleting are skipped rather than waited for.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE (account_id, key) IN
		(SELECT account_id, key FROM idempotency_keys WHERE created_at < $1
			ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		micros(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete idempotency keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
