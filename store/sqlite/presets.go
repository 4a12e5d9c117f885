package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openrender/openrender/store"
)

const presetColumns = `id, account_id, name, description, command_type, body, created_at, updated_at`

// presetBody is the JSON of a preset's body column.
type presetBody struct {
	FFmpegCommands []string          `json:"ffmpeg_commands"`
	InputFileKeys  []string          `json:"input_file_keys"`
	OutputFiles    map[string]string `json:"output_files"`
	Metadata       map[string]any    `json:"metadata"`
}

func scanPreset(r rowScanner) (*store.Preset, error) {
	var (
		p                store.Preset
		body             []byte
		created, updated int64
	)
	if err := r.Scan(&p.ID, &p.AccountID, &p.Name, &p.Description, &p.CommandType, &body, &created, &updated); err != nil {
		return nil, err
	}
	var b presetBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // metadata numbers come back digit for digit
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("sqlite: preset %s has a corrupt body: %w", p.ID, err)
	}
	p.FFmpegCommands, p.InputFileKeys, p.OutputFiles, p.Metadata = b.FFmpegCommands, b.InputFileKeys, b.OutputFiles, b.Metadata
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &p, nil
}

func encodePresetBody(p *store.Preset) ([]byte, error) {
	b, err := json.Marshal(presetBody{FFmpegCommands: p.FFmpegCommands, InputFileKeys: p.InputFileKeys,
		OutputFiles: p.OutputFiles, Metadata: p.Metadata})
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode preset: %w", err)
	}
	return b, nil
}

// CreatePreset implements store.Presets.
func (s *Store) CreatePreset(ctx context.Context, p *store.Preset) error {
	body, err := encodePresetBody(p)
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO presets (`+presetColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.AccountID, p.Name, p.Description, p.CommandType, body, micros(p.CreatedAt), micros(p.UpdatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: preset %s exists: %w", p.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create preset: %w", err)
	}
	return nil
}

// GetPreset implements store.Presets.
func (s *Store) GetPreset(ctx context.Context, id string) (*store.Preset, error) {
	p, err := scanPreset(s.read.QueryRowContext(ctx, `SELECT `+presetColumns+` FROM presets WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get preset: %w", err)
	}
	return p, nil
}

// ListPresets implements store.Presets.
func (s *Store) ListPresets(ctx context.Context, q store.PresetQuery) ([]*store.Preset, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+presetColumns+` FROM presets WHERE account_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, q.AccountID, q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list presets: %w", err)
	}
	defer rows.Close()
	var out []*store.Preset
	for rows.Next() {
		p, err := scanPreset(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list presets: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePreset implements store.Presets.
func (s *Store) UpdatePreset(ctx context.Context, p *store.Preset) error {
	body, err := encodePresetBody(p)
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, `UPDATE presets SET name = ?, description = ?, command_type = ?, body = ?, updated_at = ?
		WHERE id = ?`, p.Name, p.Description, p.CommandType, body, micros(p.UpdatedAt), p.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update preset: %w", err)
	}
	return oneRow(res)
}

// DeletePreset implements store.Presets.
func (s *Store) DeletePreset(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM presets WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete preset: %w", err)
	}
	return oneRow(res)
}

// oneRow turns "no row changed" into ErrNotFound.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
