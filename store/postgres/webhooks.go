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

// Why an event ends NOT_DELIVERED, in its last_error and its attempt-0 record.
const (
	notSentDisabled = "not delivered: the account webhook is disabled"
	notSentDeleted  = "not delivered: the account webhook was deleted"
	senderLost      = "no result recorded: the sending engine process stopped during the attempt"
)

// PutWebhookConfig implements store.Webhooks.
func (s *Store) PutWebhookConfig(ctx context.Context, c *store.WebhookConfig) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO webhook_configs
			(account_id, url, secret, is_active, consecutive_failures, disabled_at, created_at, updated_at)
		VALUES ($1, $2, $3, TRUE, 0, 0, $4, $5)
		ON CONFLICT (account_id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
			is_active = TRUE, consecutive_failures = 0, disabled_at = 0, updated_at = excluded.updated_at`,
		c.AccountID, c.URL, c.Secret, micros(c.CreatedAt), micros(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("postgres: put webhook config: %w", err)
	}
	return nil
}

// GetWebhookConfig implements store.Webhooks.
func (s *Store) GetWebhookConfig(ctx context.Context, accountID string) (*store.WebhookConfig, error) {
	return getWebhookConfig(ctx, s.pool, accountID)
}

func getWebhookConfig(ctx context.Context, q db, accountID string) (*store.WebhookConfig, error) {
	var (
		c                         store.WebhookConfig
		disabled, created, update int64
	)
	err := q.QueryRow(ctx, `SELECT account_id, url, secret, is_active, consecutive_failures,
			disabled_at, created_at, updated_at FROM webhook_configs WHERE account_id = $1`, accountID).
		Scan(&c.AccountID, &c.URL, &c.Secret, &c.IsActive, &c.ConsecutiveFailures, &disabled, &created, &update)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get webhook config: %w", err)
	}
	c.DisabledAt, c.CreatedAt, c.UpdatedAt = fromMicros(disabled), fromMicros(created), fromMicros(update)
	return &c, nil
}

// DeleteWebhookConfig implements store.Webhooks.
func (s *Store) DeleteWebhookConfig(ctx context.Context, accountID string, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_configs WHERE account_id = $1`, accountID)
		if err != nil {
			return fmt.Errorf("postgres: delete webhook config: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return abandonAccountEvents(ctx, tx, accountID, notSentDeleted, now)
	})
}

// abandonAccountEvents ends the account webhook's pending events that no
// sender holds NOT_DELIVERED, each with an attempt-0 record saying why.
// Events with an attempt in flight finish that attempt normally. Rows
// another transaction has locked are skipped rather than waited for: that
// transaction is a sender claiming or finishing them (it checks the
// webhook itself at the next attempt), and waiting while holding the
// webhook's row could deadlock with it.
func abandonAccountEvents(ctx context.Context, tx pgx.Tx, accountID, why string, now time.Time) error {
	rows, err := tx.Query(ctx, `SELECT id, command_id, url FROM webhook_events
		WHERE account_id = $1 AND state = 'PENDING' AND to_account_webhook AND lease_owner = ''
		FOR UPDATE SKIP LOCKED`, accountID)
	if err != nil {
		return fmt.Errorf("postgres: abandon events: %w", err)
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

func markNotDelivered(ctx context.Context, tx pgx.Tx, eventID, accountID, commandID, url, why string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE webhook_events SET state = 'NOT_DELIVERED', last_error = $1,
			lease_owner = '', lease_expires_at = 0, updated_at = $2 WHERE id = $3`,
		why, micros(now), eventID); err != nil {
		return fmt.Errorf("postgres: mark event not delivered: %w", err)
	}
	return insertDelivery(ctx, tx, &store.WebhookDelivery{
		ID: uuid.NewString(), EventID: eventID, AccountID: accountID, CommandID: commandID,
		URL: url, Attempt: 0, AttemptAt: now, Finished: true, Error: why,
	})
}

func insertDelivery(ctx context.Context, tx db, d *store.WebhookDelivery) error {
	body := d.ResponseBody
	if body == nil {
		body = []byte{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries
			(id, event_id, account_id, command_id, url, attempt, attempt_at, finished, success,
			 status_code, latency_us, error, response_body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		d.ID, d.EventID, d.AccountID, d.CommandID, d.URL, d.Attempt, micros(d.AttemptAt), d.Finished,
		d.Success, d.StatusCode, d.Latency.Microseconds(), d.Error, body)
	if err != nil {
		return fmt.Errorf("postgres: insert webhook delivery: %w", err)
	}
	return nil
}

// insertEvent writes a new event; FinishCommand calls it in its transaction.
func insertEvent(ctx context.Context, tx db, e *store.WebhookEvent) error {
	state := e.State
	if state == "" {
		state = store.EventPending
	}
	if state != store.EventPending && state != store.EventNotDelivered {
		return fmt.Errorf("postgres: a new webhook event must be PENDING or NOT_DELIVERED, not %s", state)
	}
	_, err := tx.Exec(ctx, `INSERT INTO webhook_events
			(id, account_id, command_id, url, secret, to_account_webhook, payload, state, attempts,
			 max_attempts, next_attempt_at, last_error, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $12)`,
		e.ID, e.AccountID, e.CommandID, e.URL, e.Secret, e.ToAccountWebhook, e.Payload, state,
		e.MaxAttempts, micros(e.NextAttemptAt), e.LastError, micros(e.CreatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: webhook event %s exists: %w", e.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: insert webhook event: %w", err)
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

func scanEvent(r pgx.Row) (*store.WebhookEvent, error) {
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
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM webhook_events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get webhook event: %w", err)
	}
	return e, nil
}

// The expression the due index is built on; queries must spell it the same.
const eventWakeAt = `GREATEST(next_attempt_at, lease_expires_at)`

// ClaimWebhookAttempts implements store.Webhooks. The due events are
// locked with SKIP LOCKED, so senders of several processes claiming at
// once take different events instead of queueing on the same ones.
func (s *Store) ClaimWebhookAttempts(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]*store.WebhookClaim, error) {
	var claims []*store.WebhookClaim
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		claims = nil
		rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM webhook_events
			WHERE state = 'PENDING' AND `+eventWakeAt+` <= $1 ORDER BY `+eventWakeAt+` LIMIT $2
			FOR UPDATE SKIP LOCKED`, micros(now), limit)
		if err != nil {
			return err
		}
		due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.WebhookEvent, error) { return scanEvent(r) })
		if err != nil {
			return err
		}
		configs := map[string]*store.WebhookConfig{}
		for _, e := range due {
			if e.LeaseOwner != "" {
				// The previous attempt's sender died: close its record as failed.
				if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET finished = TRUE, error = $1
					WHERE event_id = $2 AND NOT finished`, senderLost, e.ID); err != nil {
					return fmt.Errorf("close lost attempt: %w", err)
				}
				e.LastError = senderLost
				if e.Attempts >= e.MaxAttempts {
					if _, err := tx.Exec(ctx, `UPDATE webhook_events SET state = 'FAILED', last_error = $1,
						lease_owner = '', lease_expires_at = 0, updated_at = $2 WHERE id = $3`, senderLost, micros(now), e.ID); err != nil {
						return fmt.Errorf("fail event: %w", err)
					}
					continue
				}
			}
			if e.ToAccountWebhook {
				cfg, ok := configs[e.AccountID]
				if !ok {
					cfg, err = getWebhookConfig(ctx, tx, e.AccountID)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
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
					return err
				}
				if cfg == nil || !cfg.IsActive {
					continue
				}
			}
			e.Attempts++
			e.LeaseOwner, e.LeaseExpiresAt, e.UpdatedAt = owner, leaseUntil, now
			if _, err := tx.Exec(ctx, `UPDATE webhook_events SET attempts = $1, url = $2, lease_owner = $3,
					lease_expires_at = $4, last_error = $5, updated_at = $6 WHERE id = $7`,
				e.Attempts, e.URL, owner, micros(leaseUntil), e.LastError, micros(now), e.ID); err != nil {
				return fmt.Errorf("claim event: %w", err)
			}
			d := &store.WebhookDelivery{
				ID: uuid.NewString(), EventID: e.ID, AccountID: e.AccountID, CommandID: e.CommandID,
				URL: e.URL, Attempt: e.Attempts, AttemptAt: now,
			}
			if err := insertDelivery(ctx, tx, d); err != nil {
				return err
			}
			claims = append(claims, &store.WebhookClaim{Event: e, Delivery: d})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim webhook attempts: %w", err)
	}
	return claims, nil
}

// FinishWebhookAttempts implements store.Webhooks.
func (s *Store) FinishWebhookAttempts(ctx context.Context, owner string, disableAfter int, results []store.WebhookResult) error {
	if len(results) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, r := range results {
			if err := finishAttempt(ctx, tx, owner, disableAfter, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: finish webhook attempts: %w", err)
	}
	return nil
}

func finishAttempt(ctx context.Context, tx pgx.Tx, owner string, disableAfter int, r store.WebhookResult) error {
	var (
		accountID            string
		toAccount            bool
		attempts, maxAttempt int
	)
	err := tx.QueryRow(ctx, `SELECT account_id, to_account_webhook, attempts, max_attempts FROM webhook_events
		WHERE id = $1 AND state = 'PENDING' AND lease_owner = $2 FOR UPDATE`, r.EventID, owner).
		Scan(&accountID, &toAccount, &attempts, &maxAttempt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // no longer ours: the lease expired and another sender moved on
	}
	if err != nil {
		return fmt.Errorf("finish webhook attempt: %w", err)
	}
	now := micros(r.Now)
	body := r.ResponseBody
	if body == nil {
		body = []byte{}
	}
	if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET finished = TRUE, success = $1, status_code = $2,
			latency_us = $3, error = $4, response_body = $5 WHERE id = $6 AND event_id = $7`,
		r.Success, r.StatusCode, r.Latency.Microseconds(), r.Error, body, r.DeliveryID, r.EventID); err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	switch {
	case r.Success:
		_, err = tx.Exec(ctx, `UPDATE webhook_events SET state = 'DELIVERED', last_error = '',
			lease_owner = '', lease_expires_at = 0, updated_at = $1 WHERE id = $2`, now, r.EventID)
	case !r.NextAttemptAt.IsZero() && attempts < maxAttempt:
		_, err = tx.Exec(ctx, `UPDATE webhook_events SET next_attempt_at = $1, last_error = $2,
			lease_owner = '', lease_expires_at = 0, updated_at = $3 WHERE id = $4`,
			micros(r.NextAttemptAt), r.Error, now, r.EventID)
	default:
		_, err = tx.Exec(ctx, `UPDATE webhook_events SET state = 'FAILED', last_error = $1,
			lease_owner = '', lease_expires_at = 0, updated_at = $2 WHERE id = $3`, r.Error, now, r.EventID)
	}
	if err != nil {
		return fmt.Errorf("update webhook event: %w", err)
	}
	if !toAccount {
		return nil
	}
	if r.Success {
		_, err = tx.Exec(ctx, `UPDATE webhook_configs SET consecutive_failures = 0
			WHERE account_id = $1 AND consecutive_failures <> 0`, accountID)
		return err
	}
	var failures int
	err = tx.QueryRow(ctx, `UPDATE webhook_configs SET consecutive_failures = consecutive_failures + 1
		WHERE account_id = $1 AND is_active RETURNING consecutive_failures`, accountID).Scan(&failures)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // deleted, or already disabled
	}
	if err != nil {
		return fmt.Errorf("count webhook failure: %w", err)
	}
	if disableAfter <= 0 || failures < disableAfter {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE webhook_configs SET is_active = FALSE, disabled_at = $1, updated_at = $1
		WHERE account_id = $2`, now, accountID); err != nil {
		return fmt.Errorf("disable webhook: %w", err)
	}
	return abandonAccountEvents(ctx, tx, accountID, notSentDisabled, r.Now)
}

// NextWebhookWake implements store.Webhooks.
func (s *Store) NextWebhookWake(ctx context.Context) (time.Time, bool, error) {
	var at *int64
	err := s.pool.QueryRow(ctx, `SELECT min(`+eventWakeAt+`) FROM webhook_events WHERE state = 'PENDING'`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("postgres: next webhook wake: %w", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return fromMicros(*at), true, nil
}

const deliveryColumns = `id, event_id, account_id, command_id, url, attempt, attempt_at, finished, success,
	status_code, latency_us, error, response_body`

func scanDelivery(r pgx.Row) (*store.WebhookDelivery, error) {
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
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get webhook delivery: %w", err)
	}
	return d, nil
}

// ListWebhookDeliveries implements store.Webhooks.
func (s *Store) ListWebhookDeliveries(ctx context.Context, q store.DeliveryQuery) ([]*store.WebhookDelivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE account_id = $1`
	args := []any{q.AccountID}
	if q.CommandID != "" {
		args = append(args, q.CommandID)
		query += fmt.Sprintf(` AND command_id = $%d`, len(args))
	}
	args = append(args, q.Limit, q.Offset)
	query += fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhook deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.WebhookDelivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhook deliveries: %w", err)
	}
	return out, nil
}

// RedeliverWebhookEvent implements store.Webhooks.
func (s *Store) RedeliverWebhookEvent(ctx context.Context, id string, now time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			state              store.EventState
			owner              string
			leaseUntil         int64
			attempts, maxTries int
		)
		err := tx.QueryRow(ctx, `SELECT state, lease_owner, lease_expires_at, attempts, max_attempts
			FROM webhook_events WHERE id = $1 FOR UPDATE`, id).Scan(&state, &owner, &leaseUntil, &attempts, &maxTries)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if state == store.EventPending && owner != "" && leaseUntil > micros(now) {
			return fmt.Errorf("postgres: event %s has an attempt in flight: %w", id, store.ErrConflict)
		}
		if state == store.EventPending {
			_, err = tx.Exec(ctx, `UPDATE webhook_events SET next_attempt_at = $1, updated_at = $1 WHERE id = $2`,
				micros(now), id)
		} else {
			_, err = tx.Exec(ctx, `UPDATE webhook_events SET state = 'PENDING', max_attempts = attempts + 1,
				next_attempt_at = $1, lease_owner = '', lease_expires_at = 0, updated_at = $1 WHERE id = $2`,
				micros(now), id)
		}
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("postgres: redeliver: %w", err)
	}
	return err
}
