package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openrender/openrender/store"
)

func scanProgress(percent, eta sql.NullFloat64, at int64) *store.Progress {
	if !percent.Valid {
		return nil
	}
	p := &store.Progress{Percent: percent.Float64, At: fromMicros(at)}
	if eta.Valid {
		p.ETASeconds = &eta.Float64
	}
	return p
}

// SetProgress implements store.CommandControl.
func (s *Store) SetProgress(ctx context.Context, id, owner string, p store.Progress) error {
	var eta any
	if p.ETASeconds != nil {
		eta = *p.ETASeconds
	}
	return s.ownedUpdate(ctx, `UPDATE commands SET progress = ?, progress_eta_seconds = ?, progress_at = ?
		WHERE id = ? AND status = 'PROCESSING' AND lease_owner = ?`,
		p.Percent, eta, micros(p.At), id, owner)
}

// RequestCancel implements store.CommandControl.
func (s *Store) RequestCancel(ctx context.Context, id string, now time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE commands
		SET cancel_requested_at = CASE WHEN cancel_requested_at = 0 THEN ? ELSE cancel_requested_at END
		WHERE id = ? AND status = 'PROCESSING'`, micros(now), id)
	if err != nil {
		return fmt.Errorf("sqlite: request cancel: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	return s.notInStatus(ctx, id)
}

// notInStatus tells an unknown command (ErrNotFound) from one in another
// status than a conditional write wanted (ErrConflict).
func (s *Store) notInStatus(ctx context.Context, id string) error {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM commands WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return store.ErrConflict
}

// CancelQueuedCommand implements store.CommandControl.
func (s *Store) CancelQueuedCommand(ctx context.Context, id string, o store.Outcome) error {
	if o.Status != store.StatusFailed || len(o.Files) > 0 {
		return fmt.Errorf("sqlite: a cancelled command ends FAILED with no files")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: cancel command: %w", err)
	}
	defer tx.Rollback()
	fin := micros(o.FinishedAt)
	res, err := tx.ExecContext(ctx, `UPDATE commands SET
			status = 'FAILED', error_status = ?, error_message = ?,
			total_processing_seconds = ?, ffmpeg_run_seconds = ?,
			finished_at = ?, updated_at = ?,
			cancel_requested_at = CASE WHEN cancel_requested_at = 0 THEN ? ELSE cancel_requested_at END
		WHERE id = ? AND status = 'QUEUED'`,
		o.ErrorStatus, o.ErrorMessage, o.TotalProcessingSeconds, o.FFmpegRunSeconds, fin, fin, fin, id)
	if err != nil {
		return fmt.Errorf("sqlite: cancel command: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		tx.Rollback()
		return s.notInStatus(ctx, id)
	}
	if o.Event != nil {
		if err := insertEvent(ctx, tx, o.Event); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: cancel command: %w", err)
	}
	return nil
}

// CancelRequestedCommands implements store.CommandControl.
func (s *Store) CancelRequestedCommands(ctx context.Context, node string) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM commands
		WHERE lease_node = ? AND status = 'PROCESSING' AND cancel_requested_at > 0`, node)
	if err != nil {
		return nil, fmt.Errorf("sqlite: cancel-requested commands: %w", err)
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

// CountUnfinishedCommands implements store.CommandControl. It reads only the
// commands_unfinished partial index.
func (s *Store) CountUnfinishedCommands(ctx context.Context) (queued, processing int, err error) {
	rows, err := s.read.QueryContext(ctx, `SELECT status, COUNT(*) FROM commands
		WHERE status IN ('QUEUED', 'PROCESSING') GROUP BY status`)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: count commands: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return 0, 0, err
		}
		if status == string(store.StatusQueued) {
			queued = n
		} else {
			processing = n
		}
	}
	return queued, processing, rows.Err()
}
