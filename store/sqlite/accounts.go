package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

// EnsureAccount implements store.Accounts.
func (s *Store) EnsureAccount(ctx context.Context, name string, now time.Time) (*store.Account, error) {
	// INSERT OR IGNORE then SELECT, in one write transaction: two processes
	// ensuring the same name end up with the same account.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		uuid.NewString(), name, micros(now)); err != nil {
		return nil, fmt.Errorf("sqlite: ensure account %q: %w", name, err)
	}
	var a store.Account
	var created int64
	if err := tx.QueryRowContext(ctx, `SELECT id, name, created_at FROM accounts WHERE name = ?`, name).
		Scan(&a.ID, &a.Name, &created); err != nil {
		return nil, fmt.Errorf("sqlite: ensure account %q: %w", name, err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, tx.Commit()
}

// AddAPIKey implements store.Accounts.
func (s *Store) AddAPIKey(ctx context.Context, accountID string, keyHash []byte, now time.Time) error {
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO api_keys (key_hash, account_id, created_at) VALUES (?, ?, ?) ON CONFLICT (key_hash) DO NOTHING`,
		keyHash, accountID, micros(now))
	if err != nil {
		return fmt.Errorf("sqlite: add API key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	// The hash was there already: fine if it is this account's.
	var owner string
	if err := s.write.QueryRowContext(ctx, `SELECT account_id FROM api_keys WHERE key_hash = ?`, keyHash).Scan(&owner); err != nil {
		return fmt.Errorf("sqlite: add API key: %w", err)
	}
	if owner != accountID {
		return fmt.Errorf("sqlite: API key belongs to another account: %w", store.ErrConflict)
	}
	return nil
}

// AccountByKeyHash implements store.Accounts.
func (s *Store) AccountByKeyHash(ctx context.Context, keyHash []byte) (*store.Account, error) {
	var a store.Account
	var created int64
	err := s.read.QueryRowContext(ctx,
		`SELECT a.id, a.name, a.created_at FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?`,
		keyHash).Scan(&a.ID, &a.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: look up API key: %w", err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// CountAPIKeys implements store.Accounts.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count API keys: %w", err)
	}
	return n, nil
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
