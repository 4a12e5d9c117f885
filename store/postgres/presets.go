package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/store"
)

const presetColumns = `id, account_id, name, description, command_type, body, created_at, updated_at`

// presetBody is the JSON of a preset's body column (the same JSON as the
// SQLite store's).
type presetBody struct {
	FFmpegCommands []string          `json:"ffmpeg_commands"`
	InputFileKeys  []string          `json:"input_file_keys"`
	OutputFiles    map[string]string `json:"output_files"`
	Metadata       map[string]any    `json:"metadata"`
}

func scanPreset(r pgx.Row) (*store.Preset, error) {
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
		return nil, fmt.Errorf("postgres: preset %s has a corrupt body: %w", p.ID, err)
	}
	p.FFmpegCommands, p.InputFileKeys, p.OutputFiles, p.Metadata = b.FFmpegCommands, b.InputFileKeys, b.OutputFiles, b.Metadata
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &p, nil
}

func encodePresetBody(p *store.Preset) ([]byte, error) {
	b, err := json.Marshal(presetBody{FFmpegCommands: p.FFmpegCommands, InputFileKeys: p.InputFileKeys,
		OutputFiles: p.OutputFiles, Metadata: p.Metadata})
	if err != nil {
		return nil, fmt.Errorf("postgres: encode preset: %w", err)
	}
	return b, nil
}

// CreatePreset implements store.Presets.
func (s *Store) CreatePreset(ctx context.Context, p *store.Preset) error {
	body, err := encodePresetBody(p)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO presets (`+presetColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ID, p.AccountID, p.Name, p.Description, string(p.CommandType), body, micros(p.CreatedAt), micros(p.UpdatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: preset %s exists: %w", p.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create preset: %w", err)
	}
	return nil
}

// GetPreset implements store.Presets.
func (s *Store) GetPreset(ctx context.Context, id string) (*store.Preset, error) {
	p, err := scanPreset(s.pool.QueryRow(ctx, `SELECT `+presetColumns+` FROM presets WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get preset: %w", err)
	}
	return p, nil
}

// ListPresets implements store.Presets.
func (s *Store) ListPresets(ctx context.Context, q store.PresetQuery) ([]*store.Preset, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+presetColumns+` FROM presets WHERE account_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, q.AccountID, q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("postgres: list presets: %w", err)
	}
	defer rows.Close()
	var out []*store.Preset
	for rows.Next() {
		p, err := scanPreset(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list presets: %w", err)
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
	tag, err := s.pool.Exec(ctx, `UPDATE presets SET name = $1, description = $2, command_type = $3, body = $4, updated_at = $5
		WHERE id = $6`, p.Name, p.Description, string(p.CommandType), body, micros(p.UpdatedAt), p.ID)
	if err != nil {
		return fmt.Errorf("postgres: update preset: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeletePreset implements store.Presets.
func (s *Store) DeletePreset(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM presets WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete preset: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
