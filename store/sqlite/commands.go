package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openrender/openrender/store"
)

const commandColumns = `id, account_id, command_type, status, request, spec, outputs,
	error_status, error_message, total_processing_seconds, ffmpeg_run_seconds,
	created_at, updated_at, claimed_at, finished_at,
	lease_owner, lease_node, lease_expires_at, attempts, lost_leases,
	progress, progress_eta_seconds, progress_at, cancel_requested_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanCommand(r rowScanner) (*store.Command, error) {
	var (
		c                                   store.Command
		request, spec, outputs              []byte
		total, ffmpeg                       sql.NullFloat64
		created, updated, claimed, finished int64
		leaseExpires                        int64
		progress, eta                       sql.NullFloat64
		progressAt, cancelRequested         int64
	)
	if err := r.Scan(&c.ID, &c.AccountID, &c.Type, &c.Status, &request, &spec, &outputs,
		&c.ErrorStatus, &c.ErrorMessage, &total, &ffmpeg,
		&created, &updated, &claimed, &finished,
		&c.LeaseOwner, &c.LeaseNode, &leaseExpires, &c.Attempts, &c.LostLeases,
		&progress, &eta, &progressAt, &cancelRequested); err != nil {
		return nil, err
	}
	c.Request = json.RawMessage(request)
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber() // metadata numbers come back digit for digit
	if err := dec.Decode(&c.Spec); err != nil {
		return nil, fmt.Errorf("sqlite: command %s has a corrupt spec: %w", c.ID, err)
	}
	if err := json.Unmarshal(outputs, &c.Outputs); err != nil {
		return nil, fmt.Errorf("sqlite: command %s has corrupt outputs: %w", c.ID, err)
	}
	if total.Valid {
		c.TotalProcessingSeconds = &total.Float64
	}
	if ffmpeg.Valid {
		c.FFmpegRunSeconds = &ffmpeg.Float64
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	c.ClaimedAt, c.FinishedAt = fromMicros(claimed), fromMicros(finished)
	c.LeaseExpiresAt = fromMicros(leaseExpires)
	c.Progress = scanProgress(progress, eta, progressAt)
	c.CancelRequestedAt = fromMicros(cancelRequested)
	return &c, nil
}

// CreateCommand implements store.Commands.
func (s *Store) CreateCommand(ctx context.Context, c *store.Command) error {
	args, err := insertArgs(c)
	if err != nil {
		return err
	}
	err = s.inserts.insert(ctx, args)
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: command %s exists: %w", c.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create command: %w", err)
	}
	return nil
}

// CreateCommands implements store.Commands: one transaction of its own (not
// the group commit, where one failed row fails only its own caller), so
// the commands are recorded all together or not at all.
func (s *Store) CreateCommands(ctx context.Context, cs []*store.Command) error {
	rows := make([][]any, len(cs))
	for i, c := range cs {
		args, err := insertArgs(c)
		if err != nil {
			return err
		}
		rows[i] = args
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: create commands: %w", err)
	}
	defer tx.Rollback()
	for i, args := range rows {
		if _, err := tx.ExecContext(ctx, insertCommandSQL, args...); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("sqlite: command %s exists: %w", cs[i].ID, store.ErrConflict)
			}
			return fmt.Errorf("sqlite: create commands: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: create commands: %w", err)
	}
	return nil
}

// insertArgs are the values of insertCommandSQL for a new command.
func insertArgs(c *store.Command) ([]any, error) {
	if c.Status != store.StatusQueued {
		return nil, fmt.Errorf("sqlite: a new command must be QUEUED, not %s", c.Status)
	}
	spec, err := json.Marshal(c.Spec)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode spec: %w", err)
	}
	outputs, err := json.Marshal(c.Outputs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode outputs: %w", err)
	}
	if c.Outputs == nil {
		outputs = []byte("[]")
	}
	request := []byte(c.Request)
	if len(request) == 0 {
		request = []byte("{}")
	}
	return []any{c.ID, c.AccountID, c.Type, c.Status, request, spec, outputs,
		micros(c.CreatedAt), micros(c.UpdatedAt)}, nil
}

// GetCommand implements store.Commands.
func (s *Store) GetCommand(ctx context.Context, id string) (*store.Command, error) {
	c, err := scanCommand(s.read.QueryRowContext(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get command: %w", err)
	}
	return c, nil
}

// ListCommands implements store.Commands.
func (s *Store) ListCommands(ctx context.Context, q store.CommandQuery) ([]*store.Command, error) {
	query := `SELECT ` + commandColumns + ` FROM commands WHERE account_id = ?`
	args := []any{q.AccountID}
	if q.Status != "" {
		query += ` AND status = ?`
		args = append(args, q.Status)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, q.Limit, q.Offset)
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list commands: %w", err)
	}
	defer rows.Close()
	var out []*store.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list commands: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClaimCommand implements store.Commands. One conditional UPDATE decides
// the claim, so two workers (or two processes) racing for a command can't
// both win: SQLite runs writes one at a time. The per-account cap is a
// subquery of the same UPDATE, so it is checked and the claim made in one
// step: two claims for one account can't both see room for one more.
func (s *Store) ClaimCommand(ctx context.Context, id string, l store.Lease) (*store.Command, error) {
	now := micros(l.Now)
	c, err := scanCommand(s.write.QueryRowContext(ctx, `UPDATE commands SET
			status = 'PROCESSING',
			lease_owner = ?, lease_node = ?, lease_expires_at = ?,
			claimed_at = ?, updated_at = ?,
			attempts = attempts + 1,
			lost_leases = lost_leases + (status = 'PROCESSING'),
			progress = NULL, progress_eta_seconds = NULL, progress_at = 0
		WHERE id = ? AND (status = 'QUEUED' OR (status = 'PROCESSING' AND lease_expires_at <= ?))
			AND (? <= 0 OR (SELECT COUNT(*) FROM commands AS running
				WHERE running.account_id = commands.account_id AND running.status = 'PROCESSING'
					AND running.lease_expires_at > ? AND running.id <> commands.id) < ?)
		RETURNING `+commandColumns,
		l.Owner, l.Node, micros(l.ExpiresAt), now, now, id, now,
		l.MaxRunningPerAccount, now, l.MaxRunningPerAccount))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.whyNotClaimed(ctx, id, now)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim command: %w", err)
	}
	return c, nil
}

// whyNotClaimed tells an unknown id, a command that is not claimable, and
// one that was claimable but whose account is at its cap.
func (s *Store) whyNotClaimed(ctx context.Context, id string, now int64) error {
	var claimable bool
	err := s.read.QueryRowContext(ctx, `SELECT status = 'QUEUED' OR (status = 'PROCESSING' AND lease_expires_at <= ?)
		FROM commands WHERE id = ?`, now, id).Scan(&claimable)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if claimable {
		return store.ErrAccountBusy
	}
	return store.ErrNotClaimable
}

// RenewLease implements store.Commands.
func (s *Store) RenewLease(ctx context.Context, id string, l store.Lease) error {
	return s.ownedUpdate(ctx, `UPDATE commands SET lease_expires_at = ? WHERE id = ? AND status = 'PROCESSING' AND lease_owner = ?`,
		micros(l.ExpiresAt), id, l.Owner)
}

// ReleaseCommand implements store.Commands.
func (s *Store) ReleaseCommand(ctx context.Context, id, owner string, now time.Time) error {
	return s.ownedUpdate(ctx, `UPDATE commands SET status = 'QUEUED', lease_owner = '', lease_node = '', lease_expires_at = 0, updated_at = ?
		WHERE id = ? AND status = 'PROCESSING' AND lease_owner = ?`,
		micros(now), id, owner)
}

// ownedUpdate runs an UPDATE guarded by the lease owner and turns "no row
// changed" into ErrLeaseLost.
func (s *Store) ownedUpdate(ctx context.Context, query string, args ...any) error {
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrLeaseLost
	}
	return nil
}

// FinishCommand implements store.Commands.
func (s *Store) FinishCommand(ctx context.Context, id, owner string, o store.Outcome) error {
	if !o.Status.Final() {
		return fmt.Errorf("sqlite: finish with non-final status %s", o.Status)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: finish command: %w", err)
	}
	defer tx.Rollback()
	fin := micros(o.FinishedAt)
	res, err := tx.ExecContext(ctx, `UPDATE commands SET
			status = ?, error_status = ?, error_message = ?,
			total_processing_seconds = ?, ffmpeg_run_seconds = ?,
			finished_at = ?, updated_at = ?, lease_owner = '', lease_node = '', lease_expires_at = 0
		WHERE id = ? AND status = 'PROCESSING' AND lease_owner = ?`,
		o.Status, o.ErrorStatus, o.ErrorMessage, o.TotalProcessingSeconds, o.FFmpegRunSeconds,
		fin, fin, id, owner)
	if err != nil {
		return fmt.Errorf("sqlite: finish command: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrLeaseLost
	}
	for _, f := range o.Files {
		if err := insertFile(ctx, tx, f); err != nil {
			return err
		}
	}
	if o.Event != nil {
		if err := insertEvent(ctx, tx, o.Event); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: finish command: %w", err)
	}
	return nil
}

// ClaimableCommands implements store.Commands. Pages are keyed on
// (created_at, id), so a page boundary never skips or repeats a command.
func (s *Store) ClaimableCommands(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	query := `SELECT id FROM commands
		WHERE status IN ('QUEUED', 'PROCESSING') AND (status = 'QUEUED' OR lease_expires_at <= ?)`
	args := []any{micros(now)}
	if after != "" {
		query += ` AND (created_at, id) > (SELECT created_at, id FROM commands WHERE id = ?)`
		args = append(args, after)
	}
	query += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claimable commands: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ExpireLeases implements store.Commands.
func (s *Store) ExpireLeases(ctx context.Context, node string, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE commands SET lease_expires_at = ?
		WHERE lease_node = ? AND status = 'PROCESSING' AND lease_expires_at > ?`,
		micros(now), node, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire leases: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
