package client

import (
	"context"

	"github.com/openrender/openrender/api"
)

// Preset is a stored command template: its inputs are named by
// InputFileKeys, its outputs fixed by OutputFileDefinitions, and
// ExecutePreset runs it on given input URLs. System presets (IsSystem) are
// readable by every account and can't be changed.
type Preset = api.Preset

// PresetRequest creates a preset. Set FFmpegCommand, or FFmpegCommands
// with CommandType TypeChainedCommand.
type PresetRequest struct {
	Name                  string            `json:"name"`
	Description           string            `json:"description,omitempty"`
	CommandType           string            `json:"command_type,omitempty"`
	FFmpegCommand         string            `json:"ffmpeg_command,omitempty"`
	FFmpegCommands        []string          `json:"ffmpeg_commands,omitempty"`
	InputFileKeys         []string          `json:"input_file_keys"`
	OutputFileDefinitions map[string]string `json:"output_file_definitions"`
	Metadata              map[string]any    `json:"metadata,omitempty"`
}

// PresetUpdate changes the fields that are set (not nil); Metadata, when
// set, replaces the preset's metadata.
type PresetUpdate struct {
	Name                  *string           `json:"name,omitempty"`
	Description           *string           `json:"description,omitempty"`
	CommandType           *string           `json:"command_type,omitempty"`
	FFmpegCommand         *string           `json:"ffmpeg_command,omitempty"`
	FFmpegCommands        []string          `json:"ffmpeg_commands,omitempty"`
	InputFileKeys         []string          `json:"input_file_keys,omitempty"`
	OutputFileDefinitions map[string]string `json:"output_file_definitions,omitempty"`
	Metadata              map[string]any    `json:"metadata,omitempty"`
}

// ExecutePresetRequest runs a preset: InputFiles' keys must be exactly the
// preset's InputFileKeys; Metadata is merged into the preset's.
type ExecutePresetRequest struct {
	InputFiles map[string]string `json:"input_files"`
	Metadata   map[string]any    `json:"metadata,omitempty"`
	WebhookURL string            `json:"webhook_url,omitempty"`
	// MaxCommandRunSeconds bounds the run as in RunRequest. Zero: the
	// server's default.
	MaxCommandRunSeconds float64 `json:"max_command_run_seconds,omitempty"`
}

// PresetList is a page of presets.
type PresetList = api.PresetList

// CreatePreset stores a new preset of the account.
func (c *Client) CreatePreset(ctx context.Context, r PresetRequest) (*Preset, error) {
	var out Preset
	if err := c.do(ctx, "POST", "/presets", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPreset returns one of the account's presets or a system preset.
func (c *Client) GetPreset(ctx context.Context, id string) (*Preset, error) {
	var out Preset
	if err := c.do(ctx, "GET", "/presets/"+escape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPresets returns a page of the presets the account can use.
func (c *Client) ListPresets(ctx context.Context, o ListOptions) (*PresetList, error) {
	var out PresetList
	if err := c.do(ctx, "GET", "/presets", o.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdatePreset changes the fields u sets and returns the preset as stored.
func (c *Client) UpdatePreset(ctx context.Context, id string, u PresetUpdate) (*Preset, error) {
	var out Preset
	if err := c.do(ctx, "PUT", "/presets/"+escape(id), nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePreset deletes one of the account's presets.
func (c *Client) DeletePreset(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/presets/"+escape(id), nil, nil, nil)
}

// ExecutePreset submits a command made from a preset and returns its id.
func (c *Client) ExecutePreset(ctx context.Context, id string, r ExecutePresetRequest) (string, error) {
	var out api.CommandID
	if err := c.do(ctx, "POST", "/presets/"+escape(id)+"/execute", nil, r, &out); err != nil {
		return "", err
	}
	return out.CommandID, nil
}
