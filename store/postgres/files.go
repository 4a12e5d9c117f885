package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/store"
)

const fileColumns = `id, account_id, command_id, alias, file_name, blob_key, status, size_bytes, info,
	is_deleted, original_url, error_status, error_message, created_at, updated_at`

func scanFile(r pgx.Row) (*store.File, error) {
	var (
		f                store.File
		info             []byte
		created, updated int64
	)
	if err := r.Scan(&f.ID, &f.AccountID, &f.CommandID, &f.Alias, &f.FileName, &f.BlobKey, &f.Status,
		&f.SizeBytes, &info, &f.IsDeleted, &f.OriginalURL, &f.ErrorStatus, &f.ErrorMessage,
		&created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(info, &f.Info); err != nil {
		return nil, fmt.Errorf("postgres: file %s has corrupt media info: %w", f.ID, err)
	}
	f.CreatedAt, f.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &f, nil
}

func insertFile(ctx context.Context, tx db, f *store.File) error {
	info, err := json.Marshal(f.Info)
	if err != nil {
		return fmt.Errorf("postgres: encode media info: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO files (`+fileColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		f.ID, f.AccountID, f.CommandID, f.Alias, f.FileName, f.BlobKey, f.Status, f.SizeBytes, info,
		f.IsDeleted, f.OriginalURL, f.ErrorStatus, f.ErrorMessage, micros(f.CreatedAt), micros(f.UpdatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: file %s exists: %w", f.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: insert file: %w", err)
	}
	return nil
}

// GetFile implements store.Files.
func (s *Store) GetFile(ctx context.Context, id string) (*store.File, error) {
	f, err := scanFile(s.pool.QueryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get file: %w", err)
	}
	return f, nil
}

// CommandFiles implements store.Files.
func (s *Store) CommandFiles(ctx context.Context, commandIDs ...string) ([]*store.File, error) {
	if len(commandIDs) == 0 {
		return nil, nil
	}
	return s.queryFiles(ctx, "command files", `SELECT `+fileColumns+` FROM files WHERE command_id = ANY($1)`, commandIDs)
}

// CreateFile implements store.Files.
func (s *Store) CreateFile(ctx context.Context, f *store.File) error {
	return insertFile(ctx, s.pool, f)
}

// ListFiles implements store.Files.
func (s *Store) ListFiles(ctx context.Context, q store.FileQuery) ([]*store.File, error) {
	return s.queryFiles(ctx, "list files", `SELECT `+fileColumns+` FROM files WHERE account_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, q.AccountID, q.Limit, q.Offset)
}

// FinishFile implements store.Files. The condition on status and
// is_deleted makes it a no-op, reported as ErrConflict, for a file deleted
// while it was being fetched: its bytes must then go, not its record.
func (s *Store) FinishFile(ctx context.Context, id string, r store.FileResult) error {
	if r.Status != store.FileStored && r.Status != store.FileFailed {
		return fmt.Errorf("postgres: finish file with status %q", r.Status)
	}
	info, err := json.Marshal(r.Info)
	if err != nil {
		return fmt.Errorf("postgres: encode media info: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE files SET status = $1, size_bytes = $2, info = $3,
			error_status = $4, error_message = $5, updated_at = $6
		WHERE id = $7 AND status = 'PROCESSING' AND NOT is_deleted`,
		r.Status, r.SizeBytes, info, r.ErrorStatus, r.ErrorMessage, micros(r.Now), id)
	if err != nil {
		return fmt.Errorf("postgres: finish file: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.GetFile(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("postgres: file %s is no longer PROCESSING: %w", id, store.ErrConflict)
}

// FailStaleFiles implements store.Files.
func (s *Store) FailStaleFiles(ctx context.Context, cutoff time.Time, r store.FileResult) ([]*store.File, error) {
	if r.Status != store.FileFailed {
		return nil, fmt.Errorf("postgres: fail stale files with status %q", r.Status)
	}
	return s.queryFiles(ctx, "fail stale files", `UPDATE files SET status = 'FAILED', error_status = $1, error_message = $2, updated_at = $3
		WHERE status = 'PROCESSING' AND NOT is_deleted AND updated_at < $4 RETURNING `+fileColumns,
		r.ErrorStatus, r.ErrorMessage, micros(r.Now), micros(cutoff))
}

// markDeleted is the SET clause of every delete: one conditional UPDATE per
// call, so that two processes deleting the same rows can't both get them
// (the second waits for the first's row lock, then finds is_deleted set).
const markDeleted = `UPDATE files SET is_deleted = TRUE, blob_purged = FALSE, updated_at = $1`

// DeleteFile implements store.Files.
func (s *Store) DeleteFile(ctx context.Context, id string, now time.Time) (*store.File, error) {
	f, err := scanFile(s.pool.QueryRow(ctx, markDeleted+` WHERE id = $2 AND NOT is_deleted
		RETURNING `+fileColumns, micros(now), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: delete file: %w", err)
	}
	return f, nil
}

// DeleteCommandFiles implements store.Files.
func (s *Store) DeleteCommandFiles(ctx context.Context, commandID string, now time.Time) ([]*store.File, error) {
	if commandID == "" {
		return nil, nil // files of no command are not a command's files
	}
	return s.queryFiles(ctx, "delete command files", markDeleted+` WHERE command_id = $2 AND NOT is_deleted
		RETURNING `+fileColumns, micros(now), commandID)
}

// DeleteFilesCreatedBefore implements store.Files. SKIP LOCKED lets two
// sweeping processes take different pages instead of queueing on the same
// rows.
func (s *Store) DeleteFilesCreatedBefore(ctx context.Context, cutoff, now time.Time, limit int) ([]*store.File, error) {
	return s.queryFiles(ctx, "delete expired files", markDeleted+` WHERE id IN (
			SELECT id FROM files WHERE NOT is_deleted AND created_at < $2 ORDER BY created_at, id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		AND NOT is_deleted RETURNING `+fileColumns, micros(now), micros(cutoff), limit)
}

// UnpurgedFiles implements store.Files.
func (s *Store) UnpurgedFiles(ctx context.Context, before time.Time, limit int) ([]*store.File, error) {
	return s.queryFiles(ctx, "unpurged files", `SELECT `+fileColumns+` FROM files
		WHERE is_deleted AND NOT blob_purged AND updated_at <= $1 ORDER BY updated_at, id LIMIT $2`,
		micros(before), limit)
}

// MarkPurged implements store.Files.
func (s *Store) MarkPurged(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE files SET blob_purged = TRUE WHERE is_deleted AND id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("postgres: mark files purged: %w", err)
	}
	return nil
}

// queryFiles runs a query (or an UPDATE … RETURNING) that yields file rows.
func (s *Store) queryFiles(ctx context.Context, what, query string, args ...any) ([]*store.File, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	defer rows.Close()
	var out []*store.File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", what, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}
