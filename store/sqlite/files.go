package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	defer rows.Close()
	var out []*store.File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: command files: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
