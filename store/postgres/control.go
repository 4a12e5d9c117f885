package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/store"
)

// progressOf reads the progress columns of a command: no percent means no
// progress recorded.
func progressOf(percent, eta *float64, at int64) *store.Progress {
	if percent == nil {
		return nil
	}
	return &store.Progress{Percent: *percent, ETASeconds: eta, At: fromMicros(at)}
}

// SetProgress implements store.CommandControl.
func (s *Store) SetProgress(ctx context.Context, id, owner string, p store.Progress) error {
	return s.ownedUpdate(ctx, `UPDATE commands SET progress = $1, progress_eta_seconds = $2, progress_at = $3
		WHERE id = $4 AND status = 'PROCESSING' AND lease_owner = $5`,
		p.Percent, p.ETASeconds, micros(p.At), id, owner)
}

// RequestCancel implements store.CommandControl.
func (s *Store) RequestCancel(ctx context.Context, id string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE commands
		SET cancel_requested_at = CASE WHEN cancel_requested_at = 0 THEN $1 ELSE cancel_requested_at END
		WHERE id = $2 AND status = 'PROCESSING'`, micros(now), id)
	if err != nil {
		return fmt.Errorf("postgres: request cancel: %w", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	return s.notInStatus(ctx, id)
}

// notInStatus tells an unknown command (ErrNotFound) from one in another
// status than a conditional write wanted (ErrConflict).
func (s *Store) notInStatus(ctx context.Context, id string) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM commands WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return store.ErrConflict
}

// errNotQueued makes CancelQueuedCommand's transaction roll back when the
// command is not QUEUED; the caller then finds out why.
var errNotQueued = errors.New("postgres: command not queued")

// CancelQueuedCommand implements store.CommandControl. The command's queue
// row, if any, goes in the same transaction: it could only hand a worker a
// command it may not claim.
func (s *Store) CancelQueuedCommand(ctx context.Context, id string, o store.Outcome) error {
	if o.Status != store.StatusFailed || len(o.Files) > 0 {
		return fmt.Errorf("postgres: a cancelled command ends FAILED with no files")
	}
	fin := micros(o.FinishedAt)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE commands SET
				status = 'FAILED', error_status = $1, error_message = $2,
				total_processing_seconds = $3, ffmpeg_run_seconds = $4,
				finished_at = $5, updated_at = $5,
				cancel_requested_at = CASE WHEN cancel_requested_at = 0 THEN $5 ELSE cancel_requested_at END
			WHERE id = $6 AND status = 'QUEUED'`,
			o.ErrorStatus, o.ErrorMessage, o.TotalProcessingSeconds, o.FFmpegRunSeconds, fin, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errNotQueued
		}
		if _, err := tx.Exec(ctx, `DELETE FROM queue_jobs WHERE id = $1`, id); err != nil {
			return err
		}
		if o.Event != nil {
			return insertEvent(ctx, tx, o.Event)
		}
		return nil
	})
	if errors.Is(err, errNotQueued) {
		return s.notInStatus(ctx, id)
	}
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("postgres: cancel command: %w", err)
	}
	return err
}

// CancelRequestedCommands implements store.CommandControl. It reads the
// commands_cancel_requested partial index.
func (s *Store) CancelRequestedCommands(ctx context.Context, node string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM commands
		WHERE lease_node = $1 AND status = 'PROCESSING' AND cancel_requested_at > 0`, node)
	if err != nil {
		return nil, fmt.Errorf("postgres: cancel-requested commands: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: cancel-requested commands: %w", err)
	}
	return ids, nil
}

// CountUnfinishedCommands implements store.CommandControl. It reads only the
// commands_unfinished partial index.
func (s *Store) CountUnfinishedCommands(ctx context.Context) (queued, processing int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE status = 'QUEUED'),
			count(*) FILTER (WHERE status = 'PROCESSING')
		FROM commands WHERE status IN ('QUEUED', 'PROCESSING')`).Scan(&queued, &processing)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: count commands: %w", err)
	}
	return queued, processing, nil
}
