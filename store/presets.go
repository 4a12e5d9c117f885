package store

import (
	"context"
	"time"
)

// Preset is a saved command template of an account: the commands and the
// files they use, run later with an account's input URLs
// (POST /api/v1/presets/{id}/execute). The engine's system presets are not
// stored here; they ship with the engine.
type Preset struct {
	ID          string
	AccountID   string
	Name        string
	Description string
	// CommandType is TypeFFmpegCommand (one entry in FFmpegCommands) or
	// TypeChainedCommand.
	CommandType    CommandType
	FFmpegCommands []string
	// InputFileKeys are the input aliases an execute must give URLs for,
	// no more and no fewer.
	InputFileKeys []string
	// OutputFiles maps output alias to file name (output_file_definitions).
	OutputFiles map[string]string
	// Metadata is as the client sent it, numbers as json.Number; nil if none.
	Metadata  map[string]any
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PresetQuery selects a page of an account's presets, newest first.
type PresetQuery struct {
	AccountID string
	Limit     int
	Offset    int
}

// Presets stores the accounts' presets. It is plain CRUD: every rule about
// what a preset may hold is the engine's.
type Presets interface {
	// CreatePreset records a new preset. ErrConflict if the id exists.
	CreatePreset(ctx context.Context, p *Preset) error
	// GetPreset returns any account's preset; callers check AccountID.
	// ErrNotFound if there is none.
	GetPreset(ctx context.Context, id string) (*Preset, error)
	// ListPresets returns a page of one account's presets, newest first.
	ListPresets(ctx context.Context, q PresetQuery) ([]*Preset, error)
	// UpdatePreset replaces every field of the preset p.ID except
	// AccountID and CreatedAt. ErrNotFound if there is none.
	UpdatePreset(ctx context.Context, p *Preset) error
	// DeletePreset removes a preset. ErrNotFound if there is none.
	DeletePreset(ctx context.Context, id string) error
}
