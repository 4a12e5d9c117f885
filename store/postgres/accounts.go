package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/store"
)

// EnsureAccount implements store.Accounts. INSERT … ON CONFLICT DO NOTHING
// then SELECT: two processes ensuring the same name get the same account
// (the loser's insert waits for the winner's row, then does nothing).
func (s *Store) EnsureAccount(ctx context.Context, name string, now time.Time) (*store.Account, error) {
	if _, err := s.pool.Exec(ctx,
		`INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		uuid.NewString(), name, micros(now)); err != nil {
		return nil, fmt.Errorf("postgres: ensure account %q: %w", name, err)
	}
	var a store.Account
	var created int64
	if err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM accounts WHERE name = $1`, name).
		Scan(&a.ID, &a.Name, &created); err != nil {
		return nil, fmt.Errorf("postgres: ensure account %q: %w", name, err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// AddAPIKey implements store.Accounts.
func (s *Store) AddAPIKey(ctx context.Context, accountID string, keyHash []byte, now time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO api_keys (key_hash, account_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO NOTHING`,
		keyHash, accountID, micros(now))
	if err != nil {
		return fmt.Errorf("postgres: add API key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// The hash was there already: fine if it is this account's.
	var owner string
	if err := s.pool.QueryRow(ctx, `SELECT account_id FROM api_keys WHERE key_hash = $1`, keyHash).Scan(&owner); err != nil {
		return fmt.Errorf("postgres: add API key: %w", err)
	}
	if owner != accountID {
		return fmt.Errorf("postgres: API key belongs to another account: %w", store.ErrConflict)
	}
	return nil
}

// AccountByKeyHash implements store.Accounts.
func (s *Store) AccountByKeyHash(ctx context.Context, keyHash []byte) (*store.Account, error) {
	var a store.Account
	var created int64
	err := s.pool.QueryRow(ctx,
		`SELECT a.id, a.name, a.created_at FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = $1`,
		keyHash).Scan(&a.ID, &a.Name, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: look up API key: %w", err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// CountAPIKeys implements store.Accounts.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count API keys: %w", err)
	}
	return n, nil
}
