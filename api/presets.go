package api

// CommandIDs answers POST /api/v1/run-multiple-ffmpeg-commands: one id per
// entry, in request order.
type CommandIDs struct {
	Commands []CommandID `json:"commands"`
}

// Preset is a saved command template (POST/GET/PUT /api/v1/presets). A
// preset holds either FFmpegCommand (a single command) or FFmpegCommands (a
// chain); the other is omitted.
type Preset struct {
	PresetID              string            `json:"preset_id"`
	Name                  string            `json:"name"`
	Description           string            `json:"description"`
	CommandType           string            `json:"command_type"`
	FFmpegCommand         string            `json:"ffmpeg_command,omitempty"`
	FFmpegCommands        []string          `json:"ffmpeg_commands,omitempty"`
	InputFileKeys         []string          `json:"input_file_keys"`
	OutputFileDefinitions map[string]string `json:"output_file_definitions"`
	Metadata              map[string]any    `json:"metadata"`
	IsSystem              bool              `json:"is_system"`
	CreatedAt             Time              `json:"created_at"`
	UpdatedAt             Time              `json:"updated_at"`
}

// PresetList is the answer to GET /api/v1/presets.
type PresetList struct {
	Presets []Preset `json:"presets"`
	Limit   int      `json:"limit"`
	Offset  int      `json:"offset"`
}

// PresetDeleted answers DELETE /api/v1/presets/{id}.
type PresetDeleted struct {
	Deleted  bool   `json:"deleted"`
	PresetID string `json:"preset_id"`
}
