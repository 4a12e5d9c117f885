package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openrender/openrender/store"
)

const fileColumns = `id, account_id, command_id, alias, file_name, blob_key, status, size_bytes, info,
	is_deleted, original_url, error_status, error_message, created_at, updated_at`

func scanFile(r rowScanner) (*store.File, error) {
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
		return nil, fmt.Errorf("sqlite: file %s has corrupt media info: %w", f.ID, err)
	}
	f.CreatedAt, f.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &f, nil
}

func insertFile(ctx context.Context, tx *sql.Tx, f *store.File) error {
	info, err := json.Marshal(f.Info)
	if err != nil {
		return fmt.Errorf("sqlite: encode media info: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO files (`+fileColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.AccountID, f.CommandID, f.Alias, f.FileName, f.BlobKey, f.Status, f.SizeBytes, info,
		f.IsDeleted, f.OriginalURL, f.ErrorStatus, f.ErrorMessage, micros(f.CreatedAt), micros(f.UpdatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: file %s exists: %w", f.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: insert file: %w", err)
	}
	return nil
}

// GetFile implements store.Files.
func (s *Store) GetFile(ctx context.Context, id string) (*store.File, error) {
	f, err := scanFile(s.read.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get file: %w", err)
	}
	return f, nil
}

// CommandFiles implements store.Files.
func (s *Store) CommandFiles(ctx context.Context, commandIDs ...string) ([]*store.File, error) {
	if len(commandIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(commandIDs))
	for i, id := range commandIDs {
		args[i] = id
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(commandIDs)), ",")
	rows, err := s.read.QueryContext(ctx, `SELECT `+fileColumns+` FROM files WHERE command_id IN (`+marks+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: command files: %w", err)
	}
	return collectFiles(rows, "command files")
}

// CreateFile implements store.Files.
func (s *Store) CreateFile(ctx context.Context, f *store.File) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: create file: %w", err)
	}
	defer tx.Rollback()
	if err := insertFile(ctx, tx, f); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: create file: %w", err)
	}
	return nil
}

// ListFiles implements store.Files.
func (s *Store) ListFiles(ctx context.Context, q store.FileQuery) ([]*store.File, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+fileColumns+` FROM files WHERE account_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, q.AccountID, q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list files: %w", err)
	}
	return collectFiles(rows, "list files")
}

// FinishFile implements store.Files. The condition on status and
// is_deleted makes it a no-op, reported as ErrConflict, for a file deleted
// while it was being fetched: its bytes must then go, not its record.
func (s *Store) FinishFile(ctx context.Context, id string, r store.FileResult) error {
	if r.Status != store.FileStored && r.Status != store.FileFailed {
		return fmt.Errorf("sqlite: finish file with status %q", r.Status)
	}
	info, err := json.Marshal(r.Info)
	if err != nil {
		return fmt.Errorf("sqlite: encode media info: %w", err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE files SET status = ?, size_bytes = ?, info = ?,
			error_status = ?, error_message = ?, updated_at = ?
		WHERE id = ? AND status = 'PROCESSING' AND is_deleted = 0`,
		r.Status, r.SizeBytes, info, r.ErrorStatus, r.ErrorMessage, micros(r.Now), id)
	if err != nil {
		return fmt.Errorf("sqlite: finish file: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.GetFile(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("sqlite: file %s is no longer PROCESSING: %w", id, store.ErrConflict)
}

// FailStaleFiles implements store.Files.
func (s *Store) FailStaleFiles(ctx context.Context, cutoff time.Time, r store.FileResult) ([]*store.File, error) {
	if r.Status != store.FileFailed {
		return nil, fmt.Errorf("sqlite: fail stale files with status %q", r.Status)
	}
	rows, err := s.write.QueryContext(ctx, `UPDATE files SET status = 'FAILED', error_status = ?, error_message = ?, updated_at = ?
		WHERE status = 'PROCESSING' AND is_deleted = 0 AND updated_at < ? RETURNING `+fileColumns,
		r.ErrorStatus, r.ErrorMessage, micros(r.Now), micros(cutoff))
	if err != nil {
		return nil, fmt.Errorf("sqlite: fail stale files: %w", err)
	}
	return collectFiles(rows, "fail stale files")
}

// markDeleted is the SET clause of every delete: one conditional UPDATE per
// call, so that two processes deleting the same rows can't both get them.
const markDeleted = `UPDATE files SET is_deleted = 1, blob_purged = 0, updated_at = ?`

// DeleteFile implements store.Files.
func (s *Store) DeleteFile(ctx context.Context, id string, now time.Time) (*store.File, error) {
	f, err := scanFile(s.write.QueryRowContext(ctx, markDeleted+` WHERE id = ? AND is_deleted = 0
		RETURNING `+fileColumns, micros(now), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete file: %w", err)
	}
	return f, nil
}

// DeleteCommandFiles implements store.Files.
func (s *Store) DeleteCommandFiles(ctx context.Context, commandID string, now time.Time) ([]*store.File, error) {
	if commandID == "" {
		return nil, nil // files of no command are not a command's files
	}
	rows, err := s.write.QueryContext(ctx, markDeleted+` WHERE command_id = ? AND is_deleted = 0
		RETURNING `+fileColumns, micros(now), commandID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete command files: %w", err)
	}
	return collectFiles(rows, "delete command files")
}

// DeleteFilesCreatedBefore implements store.Files.
func (s *Store) DeleteFilesCreatedBefore(ctx context.Context, cutoff, now time.Time, limit int) ([]*store.File, error) {
	rows, err := s.write.QueryContext(ctx, markDeleted+` WHERE id IN (
			SELECT id FROM files WHERE is_deleted = 0 AND created_at < ? ORDER BY created_at, id LIMIT ?)
		RETURNING `+fileColumns, micros(now), micros(cutoff), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete expired files: %w", err)
	}
	return collectFiles(rows, "delete expired files")
}

// UnpurgedFiles implements store.Files.
func (s *Store) UnpurgedFiles(ctx context.Context, before time.Time, limit int) ([]*store.File, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+fileColumns+` FROM files
		WHERE is_deleted = 1 AND blob_purged = 0 AND updated_at <= ? ORDER BY updated_at, id LIMIT ?`,
		micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unpurged files: %w", err)
	}
	return collectFiles(rows, "unpurged files")
}

// MarkPurged implements store.Files.
func (s *Store) MarkPurged(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	_, err := s.write.ExecContext(ctx, `UPDATE files SET blob_purged = 1 WHERE is_deleted = 1 AND id IN (`+marks+`)`, args...)
	if err != nil {
		return fmt.Errorf("sqlite: mark files purged: %w", err)
	}
	return nil
}

func collectFiles(rows *sql.Rows, what string) ([]*store.File, error) {
	defer rows.Close()
	var out []*store.File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}
