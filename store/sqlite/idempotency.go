package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openrender/openrender/store"
)

// ReserveIdempotencyKey implements store.Idempotency. The upsert and the
// read of the row that holds the key are one IMMEDIATE transaction, so two
// processes reserving one key at once can't both win.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord, expiredBefore time.Time) (*store.IdempotencyRecord, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reserve idempotency key: %w", err)
	}
	defer tx.Rollback()
	now := micros(r.CreatedAt)
	if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (account_id, key, owner, locked_until, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, key) DO UPDATE SET
			owner = excluded.owner, locked_until = excluded.locked_until, created_at = excluded.created_at,
			completed = 0, request_hash = x'', status_code = 0, content_type = '', body = x''
		WHERE idempotency_keys.created_at <= ? OR (idempotency_keys.completed = 0 AND idempotency_keys.locked_until <= ?)`,
		r.AccountID, r.Key, r.Owner, micros(r.LockedUntil), now, micros(expiredBefore), now); err != nil {
		return nil, fmt.Errorf("sqlite: reserve idempotency key: %w", err)
	}
	got, err := scanIdempotency(tx.QueryRowContext(ctx, idempotencySelect, r.AccountID, r.Key))
	if err != nil {
		return nil, fmt.Errorf("sqlite: reserve idempotency key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: reserve idempotency key: %w", err)
	}
	if got.Owner == r.Owner && !got.Completed {
		return nil, nil
	}
	return got, nil
}

const idempotencySelect = `SELECT account_id, key, owner, locked_until, created_at, completed,
	request_hash, status_code, content_type, body FROM idempotency_keys WHERE account_id = ? AND key = ?`

func scanIdempotency(row rowScanner) (*store.IdempotencyRecord, error) {
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
	return s.ownedUpdate(ctx, `UPDATE idempotency_keys SET completed = 1, request_hash = ?, status_code = ?,
			content_type = ?, body = ?
		WHERE account_id = ? AND key = ? AND owner = ? AND completed = 0`,
		hash, r.StatusCode, r.ContentType, body, r.AccountID, r.Key, r.Owner)
}

// ReleaseIdempotencyKey implements store.Idempotency.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, accountID, key, owner string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM idempotency_keys
		WHERE account_id = ? AND key = ? AND owner = ? AND completed = 0`, accountID, key, owner); err != nil {
		return fmt.Errorf("sqlite: release idempotency key: %w", err)
	}
	return nil
}

// GetIdempotencyKey implements store.Idempotency.
func (s *Store) GetIdempotencyKey(ctx context.Context, accountID, key string) (*store.IdempotencyRecord, error) {
	r, err := scanIdempotency(s.read.QueryRowContext(ctx, idempotencySelect, accountID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get idempotency key: %w", err)
	}
	return r, nil
}

// DeleteIdempotencyKeysBefore implements store.Idempotency.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (account_id, key) IN
		(SELECT account_id, key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
		micros(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
