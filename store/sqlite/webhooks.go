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

// Why an event ends NOT_DELIVERED, in its last_error and its attempt-0 record.
const (
	notSentDisabled = "not delivered: the account webhook is disabled"
	notSentDeleted  = "not delivered: the account webhook was deleted"
	senderLost      = "no result recorded: the sending engine process stopped during the attempt"
)

// PutWebhookConfig implements store.Webhooks.
func (s *Store) PutWebhookConfig(ctx context.Context, c *store.WebhookConfig) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO webhook_configs
			(account_id, url, secret, is_active, consecutive_failures, disabled_at, created_at, updated_at)
		VALUES (?, ?, ?, 1, 0, 0, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
			is_active = 1, consecutive_failures = 0, disabled_at = 0, updated_at = excluded.updated_at`,
		c.AccountID, c.URL, c.Secret, micros(c.CreatedAt), micros(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put webhook config: %w", err)
	}
	return nil
}

// GetWebhookConfig implements store.Webhooks.
func (s *Store) GetWebhookConfig(ctx context.Context, accountID string) (*store.WebhookConfig, error) {
	return getWebhookConfig(ctx, s.read, accountID)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getWebhookConfig(ctx context.Context, db queryRower, accountID string) (*store.WebhookConfig, error) {
	var (
		c                         store.WebhookConfig
		disabled, created, update int64
	)
	err := db.QueryRowContext(ctx, `SELECT account_id, url, secret, is_active, consecutive_failures,
			disabled_at, created_at, updated_at FROM webhook_configs WHERE account_id = ?`, accountID).
		Scan(&c.AccountID, &c.URL, &c.Secret, &c.IsActive, &c.ConsecutiveFailures, &disabled, &created, &update)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhook config: %w", err)
	}
	c.DisabledAt, c.CreatedAt, c.UpdatedAt = fromMicros(disabled), fromMicros(created), fromMicros(update)
	return &c, nil
}

// DeleteWebhookConfig implements store.Webhooks.
func (s *Store) DeleteWebhookConfig(ctx context.Context, accountID string, now time.Time) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook config: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM webhook_configs WHERE account_id = ?`, accountID)
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook config: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	if err := abandonAccountEvents(ctx, tx, accountID, notSentDeleted, now); err != nil {
		return err
	}
	return tx.Commit()
}

// abandonAccountEvents ends the account webhook's pending events that no
// sender holds NOT_DELIVERED, each with an attempt-0 record saying why.
// Events with an attempt in flight finish that attempt normally.
func abandonAccountEvents(ctx context.Context, tx *sql.Tx, accountID, why string, now time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, command_id, url FROM webhook_events
		WHERE account_id = ? AND state = 'PENDING' AND to_account_webhook = 1 AND lease_owner = ''`, accountID)
	if err != nil {
		return fmt.Errorf("sqlite: abandon events: %w", err)
	}
	type ev struct{ id, command, url string }
	var evs []ev
	for rows.Next() {
		var e ev
		if err := rows.Scan(&e.id, &e.command, &e.url); err != nil {
			rows.Close()
			return err
		}
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range evs {
		if err := markNotDelivered(ctx, tx, e.id, accountID, e.command, e.url, why, now); err != nil {
			return err
		}
	}
	return nil
}

func markNotDelivered(ctx context.Context, tx *sql.Tx, eventID, accountID, commandID, url, why string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET state = 'NOT_DELIVERED', last_error = ?,
			lease_owner = '', lease_expires_at = 0, updated_at = ? WHERE id = ?`,
		why, micros(now), eventID); err != nil {
		return fmt.Errorf("sqlite: mark event not delivered: %w", err)
	}
	return insertDelivery(ctx, tx, &store.WebhookDelivery{
		ID: uuid.NewString(), EventID: eventID, AccountID: accountID, CommandID: commandID,
		URL: url, Attempt: 0, AttemptAt: now, Finished: true, Error: why,
	})
}

func insertDelivery(ctx context.Context, tx *sql.Tx, d *store.WebhookDelivery) error {
	body := d.ResponseBody
	if body == nil {
		body = []byte{}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries
			(id, event_id, account_id, command_id, url, attempt, attempt_at, finished, success,
			 status_code, latency_us, error, response_body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.EventID, d.AccountID, d.CommandID, d.URL, d.Attempt, micros(d.AttemptAt), d.Finished,
		d.Success, d.StatusCode, d.Latency.Microseconds(), d.Error, body)
	if err != nil {
		return fmt.Errorf("sqlite: insert webhook delivery: %w", err)
	}
	return nil
}

// insertEvent writes a new event; FinishCommand calls it in its transaction.
func insertEvent(ctx context.Context, tx *sql.Tx, e *store.WebhookEvent) error {
	state := e.State
	if state == "" {
		state = store.EventPending
	}
	if state != store.EventPending && state != store.EventNotDelivered {
		return fmt.Errorf("sqlite: a new webhook event must be PENDING or NOT_DELIVERED, not %s", state)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_events
			(id, account_id, command_id, url, secret, to_account_webhook, payload, state, attempts,
			 max_attempts, next_attempt_at, last_error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
		e.ID, e.AccountID, e.CommandID, e.URL, e.Secret, e.ToAccountWebhook, e.Payload, state,
		e.MaxAttempts, micros(e.NextAttemptAt), e.LastError, micros(e.CreatedAt), micros(e.CreatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: webhook event %s exists: %w", e.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: insert webhook event: %w", err)
	}
	if state == store.EventNotDelivered {
		return insertDelivery(ctx, tx, &store.WebhookDelivery{
			ID: uuid.NewString(), EventID: e.ID, AccountID: e.AccountID, CommandID: e.CommandID,
			URL: e.URL, AttemptAt: e.CreatedAt, Finished: true, Error: e.LastError,
		})
	}
	return nil
}

const eventColumns = `id, account_id, command_id, url, secret, to_account_webhook, payload, state,
	attempts, max_attempts, next_attempt_at, lease_owner, lease_expires_at, last_error, created_at, updated_at`

func scanEvent(r rowScanner) (*store.WebhookEvent, error) {
	var (
		e                         store.WebhookEvent
		next, lease, created, upd int64
	)
	if err := r.Scan(&e.ID, &e.AccountID, &e.CommandID, &e.URL, &e.Secret, &e.ToAccountWebhook, &e.Payload,
		&e.State, &e.Attempts, &e.MaxAttempts, &next, &e.LeaseOwner, &lease, &e.LastError, &created, &upd); err != nil {
		return nil, err
	}
	e.NextAttemptAt, e.LeaseExpiresAt = fromMicros(next), fromMicros(lease)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(upd)
	return &e, nil
}

// GetWebhookEvent implements store.Webhooks.
func (s *Store) GetWebhookEvent(ctx context.Context, id string) (*store.WebhookEvent, error) {
	e, err := scanEvent(s.read.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM webhook_events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhook event: %w", err)
	}
	return e, nil
}

// The expression the due index is built on; queries must spell it the same.
const eventWakeAt = `max(next_attempt_at, lease_expires_at)`

// ClaimWebhookAttempts implements store.Webhooks.
func (s *Store) ClaimWebhookAttempts(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]*store.WebhookClaim, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim webhook attempts: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM webhook_events
		WHERE state = 'PENDING' AND `+eventWakeAt+` <= ? ORDER BY `+eventWakeAt+` LIMIT ?`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim webhook attempts: %w", err)
	}
	var due []*store.WebhookEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		due = append(due, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	configs := map[string]*store.WebhookConfig{}
	var claims []*store.WebhookClaim
	for _, e := range due {
		if e.LeaseOwner != "" {
			// The previous attempt's sender died: close its record as failed.
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET finished = 1, error = ?
				WHERE event_id = ? AND finished = 0`, senderLost, e.ID); err != nil {
				return nil, fmt.Errorf("sqlite: close lost attempt: %w", err)
			}
			e.LastError = senderLost
			if e.Attempts >= e.MaxAttempts {
				if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET state = 'FAILED', last_error = ?,
					lease_owner = '', lease_expires_at = 0, updated_at = ? WHERE id = ?`, senderLost, micros(now), e.ID); err != nil {
					return nil, fmt.Errorf("sqlite: fail event: %w", err)
				}
				continue
			}
		}
		if e.ToAccountWebhook {
			cfg, ok := configs[e.AccountID]
			if !ok {
				cfg, err = getWebhookConfig(ctx, tx, e.AccountID)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return nil, err
				}
				configs[e.AccountID] = cfg
			}
			switch {
			case cfg == nil:
				err = markNotDelivered(ctx, tx, e.ID, e.AccountID, e.CommandID, e.URL, notSentDeleted, now)
			case !cfg.IsActive:
				err = markNotDelivered(ctx, tx, e.ID, e.AccountID, e.CommandID, cfg.URL, notSentDisabled, now)
			default:
				e.URL, e.Secret = cfg.URL, cfg.Secret
			}
			if err != nil {
				return nil, err
			}
			if cfg == nil || !cfg.IsActive {
				continue
			}
		}
		e.Attempts++
		e.LeaseOwner, e.LeaseExpiresAt, e.UpdatedAt = owner, leaseUntil, now
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET attempts = ?, url = ?, lease_owner = ?,
				lease_expires_at = ?, last_error = ?, updated_at = ? WHERE id = ?`,
			e.Attempts, e.URL, owner, micros(leaseUntil), e.LastError, micros(now), e.ID); err != nil {
			return nil, fmt.Errorf("sqlite: claim event: %w", err)
		}
		d := &store.WebhookDelivery{
			ID: uuid.NewString(), EventID: e.ID, AccountID: e.AccountID, CommandID: e.CommandID,
			URL: e.URL, Attempt: e.Attempts, AttemptAt: now,
		}
		if err := insertDelivery(ctx, tx, d); err != nil {
			return nil, err
		}
		claims = append(claims, &store.WebhookClaim{Event: e, Delivery: d})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: claim webhook attempts: %w", err)
	}
	return claims, nil
}

// FinishWebhookAttempts implements store.Webhooks.
func (s *Store) FinishWebhookAttempts(ctx context.Context, owner string, disableAfter int, results []store.WebhookResult) error {
	if len(results) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: finish webhook attempts: %w", err)
	}
	defer tx.Rollback()
	for _, r := range results {
		if err := finishAttempt(ctx, tx, owner, disableAfter, r); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: finish webhook attempts: %w", err)
	}
	return nil
}

func finishAttempt(ctx context.Context, tx *sql.Tx, owner string, disableAfter int, r store.WebhookResult) error {
	var (
		accountID            string
		toAccount            bool
		attempts, maxAttempt int
	)
	err := tx.QueryRowContext(ctx, `SELECT account_id, to_account_webhook, attempts, max_attempts FROM webhook_events
		WHERE id = ? AND state = 'PENDING' AND lease_owner = ?`, r.EventID, owner).
		Scan(&accountID, &toAccount, &attempts, &maxAttempt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no longer ours: the lease expired and another sender moved on
	}
	if err != nil {
		return fmt.Errorf("sqlite: finish webhook attempt: %w", err)
	}
	now := micros(r.Now)
	body := r.ResponseBody
	if body == nil {
		body = []byte{}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET finished = 1, success = ?, status_code = ?,
			latency_us = ?, error = ?, response_body = ? WHERE id = ? AND event_id = ?`,
		r.Success, r.StatusCode, r.Latency.Microseconds(), r.Error, body, r.DeliveryID, r.EventID); err != nil {
		return fmt.Errorf("sqlite: record webhook attempt: %w", err)
	}
	switch {
	case r.Success:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events SET state = 'DELIVERED', last_error = '',
			lease_owner = '', lease_expires_at = 0, updated_at = ? WHERE id = ?`, now, r.EventID)
	case !r.NextAttemptAt.IsZero() && attempts < maxAttempt:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events SET next_attempt_at = ?, last_error = ?,
			lease_owner = '', lease_expires_at = 0, updated_at = ? WHERE id = ?`,
			micros(r.NextAttemptAt), r.Error, now, r.EventID)
	default:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events SET state = 'FAILED', last_error = ?,
			lease_owner = '', lease_expires_at = 0, updated_at = ? WHERE id = ?`, r.Error, now, r.EventID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update webhook event: %w", err)
	}
	if !toAccount {
		return nil
	}
	if r.Success {
		_, err = tx.ExecContext(ctx, `UPDATE webhook_configs SET consecutive_failures = 0
			WHERE account_id = ? AND consecutive_failures <> 0`, accountID)
		return err
	}
	var failures int
	err = tx.QueryRowContext(ctx, `UPDATE webhook_configs SET consecutive_failures = consecutive_failures + 1
		WHERE account_id = ? AND is_active = 1 RETURNING consecutive_failures`, accountID).Scan(&failures)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // deleted, or already disabled
	}
	if err != nil {
		return fmt.Errorf("sqlite: count webhook failure: %w", err)
	}
	if disableAfter <= 0 || failures < disableAfter {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_configs SET is_active = 0, disabled_at = ?, updated_at = ?
		WHERE account_id = ?`, now, now, accountID); err != nil {
		return fmt.Errorf("sqlite: disable webhook: %w", err)
	}
	return abandonAccountEvents(ctx, tx, accountID, notSentDisabled, r.Now)
}

// NextWebhookWake implements store.Webhooks.
func (s *Store) NextWebhookWake(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT min(`+eventWakeAt+`) FROM webhook_events WHERE state = 'PENDING'`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: next webhook wake: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(at.Int64), true, nil
}

const deliveryColumns = `id, event_id, account_id, command_id, url, attempt, attempt_at, finished, success,
	status_code, latency_us, error, response_body`

func scanDelivery(r rowScanner) (*store.WebhookDelivery, error) {
	var (
		d          store.WebhookDelivery
		at, micros int64
	)
	if err := r.Scan(&d.ID, &d.EventID, &d.AccountID, &d.CommandID, &d.URL, &d.Attempt, &at, &d.Finished,
		&d.Success, &d.StatusCode, &micros, &d.Error, &d.ResponseBody); err != nil {
		return nil, err
	}
	d.AttemptAt = fromMicros(at)
	d.Latency = time.Duration(micros) * time.Microsecond
	return &d, nil
}

// GetWebhookDelivery implements store.Webhooks.
func (s *Store) GetWebhookDelivery(ctx context.Context, id string) (*store.WebhookDelivery, error) {
	d, err := scanDelivery(s.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhook delivery: %w", err)
	}
	return d, nil
}

// ListWebhookDeliveries implements store.Webhooks.
func (s *Store) ListWebhookDeliveries(ctx context.Context, q store.DeliveryQuery) ([]*store.WebhookDelivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE account_id = ?`
	args := []any{q.AccountID}
	if q.CommandID != "" {
		query += ` AND command_id = ?`
		args = append(args, q.CommandID)
	}
	query += ` ORDER BY rowid DESC LIMIT ? OFFSET ?`
	args = append(args, q.Limit, q.Offset)
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []*store.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RedeliverWebhookEvent implements store.Webhooks.
func (s *Store) RedeliverWebhookEvent(ctx context.Context, id string, now time.Time) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: redeliver: %w", err)
	}
	defer tx.Rollback()
	var (
		state              store.EventState
		owner              string
		leaseUntil         int64
		attempts, maxTries int
	)
	err = tx.QueryRowContext(ctx, `SELECT state, lease_owner, lease_expires_at, attempts, max_attempts
		FROM webhook_events WHERE id = ?`, id).Scan(&state, &owner, &leaseUntil, &attempts, &maxTries)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: redeliver: %w", err)
	}
	if state == store.EventPending && owner != "" && leaseUntil > micros(now) {
		return fmt.Errorf("sqlite: event %s has an attempt in flight: %w", id, store.ErrConflict)
	}
	if state == store.EventPending {
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events SET next_attempt_at = ?, updated_at = ? WHERE id = ?`,
			micros(now), micros(now), id)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events SET state = 'PENDING', max_attempts = attempts + 1,
			next_attempt_at = ?, lease_owner = '', lease_expires_at = 0, updated_at = ? WHERE id = ?`,
			micros(now), micros(now), id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: redeliver: %w", err)
	}
	return tx.Commit()
}
