package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
	"github.com/openrender/openrender/template/policy"
)

// Limits on a preset's own fields (its commands and files have the limits of
// any command).
const (
	MaxPresetNameBytes        = 200
	MaxPresetDescriptionBytes = 2000
	// PresetIDPrefix starts every preset id, as the contract spells them.
	PresetIDPrefix = "prs_"
)

// ErrPresetImmutable: the preset is a system preset, which no account may
// change or delete.
var ErrPresetImmutable = errors.New("engine: system presets cannot be changed")

// PresetFields are the fields of a create or update request. A nil pointer
// (or nil slice or map, with its Set flag false) is a field the request did
// not send: an update keeps the preset's value, a create uses the default.
type PresetFields struct {
	Name           *string
	Description    *string
	CommandType    *string
	FFmpegCommand  *string
	FFmpegCommands []string // nil: not sent
	InputFileKeys  []string // nil: not sent
	OutputFiles    map[string]string
	Metadata       map[string]any
	// MetadataSet says metadata was sent (possibly null, which clears it):
	// on update it replaces the preset's metadata whole.
	MetadataSet bool
}

// ExecuteRequest runs a preset with the caller's input URLs.
type ExecuteRequest struct {
	// InputFiles must have exactly the preset's input_file_keys as keys.
	InputFiles map[string]string
	// Metadata is merged over the preset's: a key given here wins.
	Metadata      map[string]any
	WebhookURL    string
	MaxRunSeconds *float64
	// OriginalRequest is the execute request body, echoed as original_request.
	OriginalRequest json.RawMessage
}

// IsSystemPreset reports whether p ships with the engine (readable by every
// account, changeable by none).
func IsSystemPreset(p *store.Preset) bool { return p.AccountID == "" }

// CreatePreset validates and records a preset of the account.
func (e *Engine) CreatePreset(ctx context.Context, accountID string, in PresetFields) (*store.Preset, error) {
	now := e.cfg.Now()
	p := &store.Preset{
		ID:        PresetIDPrefix + strings.ReplaceAll(newID(), "-", ""),
		AccountID: accountID,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if problems := applyPresetFields(p, in, true); len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	if err := e.cfg.Store.CreatePreset(ctx, p); err != nil {
		return nil, fmt.Errorf("engine: record preset: %w", err)
	}
	return p, nil
}

// GetPreset returns a system preset or one of the account's. Another
// account's preset is ErrNotFound, exactly like a missing one.
func (e *Engine) GetPreset(ctx context.Context, accountID, id string) (*store.Preset, error) {
	if p := systemPreset(id); p != nil {
		return p, nil
	}
	p, err := e.cfg.Store.GetPreset(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.AccountID != accountID) {
		return nil, ErrNotFound
	}
	return p, err
}

// ListPresets returns a page of the presets the account sees: the system
// presets first, then its own, newest first.
func (e *Engine) ListPresets(ctx context.Context, accountID string, limit, offset int) ([]*store.Preset, error) {
	system := SystemPresets()
	var page []*store.Preset
	if offset < len(system) {
		page = append(page, system[offset:min(len(system), offset+limit)]...)
	}
	rest := limit - len(page)
	if rest <= 0 {
		return page, nil
	}
	own, err := e.cfg.Store.ListPresets(ctx, store.PresetQuery{AccountID: accountID, Limit: rest, Offset: max(0, offset-len(system))})
	if err != nil {
		return nil, err
	}
	return append(page, own...), nil
}

// UpdatePreset changes the fields in sets (metadata, when sent, replaces
// the preset's whole) and validates the result as a whole.
func (e *Engine) UpdatePreset(ctx context.Context, accountID, id string, in PresetFields) (*store.Preset, error) {
	p, err := e.GetPreset(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	if IsSystemPreset(p) {
		return nil, ErrPresetImmutable
	}
	if problems := applyPresetFields(p, in, false); len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	p.UpdatedAt = e.cfg.Now()
	if err := e.cfg.Store.UpdatePreset(ctx, p); errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound // deleted meanwhile
	} else if err != nil {
		return nil, err
	}
	return p, nil
}

// DeletePreset removes one of the account's presets.
func (e *Engine) DeletePreset(ctx context.Context, accountID, id string) error {
	p, err := e.GetPreset(ctx, accountID, id)
	if err != nil {
		return err
	}
	if IsSystemPreset(p) {
		return ErrPresetImmutable
	}
	if err := e.cfg.Store.DeletePreset(ctx, id); errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return nil
}

// ExecutePreset submits the preset's command with the caller's inputs. The
// input_files keys must equal the preset's input_file_keys exactly; the
// resulting command is validated like any other (the input URLs, the merged
// metadata, the webhook_url).
func (e *Engine) ExecutePreset(ctx context.Context, accountID, id string, req ExecuteRequest) (*store.Command, error) {
	p, err := e.GetPreset(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	var problems template.Errors
	want := slices.Sorted(slices.Values(p.InputFileKeys))
	got := sortedKeys(req.InputFiles)
	if !slices.Equal(want, got) {
		var missing, extra []string
		for _, k := range want {
			if _, ok := req.InputFiles[k]; !ok {
				missing = append(missing, k)
			}
		}
		for _, k := range got {
			if !slices.Contains(want, k) {
				extra = append(extra, k)
			}
		}
		msg := fmt.Sprintf("input_files must have exactly the preset's input_file_keys [%s]", strings.Join(want, ", "))
		if len(missing) > 0 {
			msg += "; missing: " + strings.Join(missing, ", ")
		}
		if len(extra) > 0 {
			msg += "; not in the preset: " + strings.Join(extra, ", ")
		}
		problems = append(problems, template.NewFieldError(msg, "body", "input_files"))
	}
	metadata := mergeMetadata(p.Metadata, req.Metadata)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	sub := SubmitRequest{
		InputFiles:      req.InputFiles,
		OutputFiles:     p.OutputFiles,
		Metadata:        metadata,
		WebhookURL:      req.WebhookURL,
		MaxRunSeconds:   req.MaxRunSeconds,
		OriginalRequest: req.OriginalRequest,
	}
	if p.CommandType == store.TypeChainedCommand {
		sub.FFmpegCommands = p.FFmpegCommands
		return e.SubmitChained(ctx, accountID, sub)
	}
	if len(p.FFmpegCommands) > 0 {
		sub.FFmpegCommand = p.FFmpegCommands[0]
	}
	return e.Submit(ctx, accountID, sub)
}

// mergeMetadata is the preset's metadata with the request's over it; nil
// when both are empty.
func mergeMetadata(preset, request map[string]any) map[string]any {
	if len(preset) == 0 && len(request) == 0 {
		return request
	}
	merged := maps.Clone(preset)
	if merged == nil {
		merged = map[string]any{}
	}
	maps.Copy(merged, request)
	return merged
}

// applyPresetFields sets the fields in onto p and checks the preset that
// results. creating requires name and a command.
func applyPresetFields(p *store.Preset, in PresetFields, creating bool) template.Errors {
	var problems template.Errors
	bad := func(msg string, loc ...any) {
		problems = append(problems, template.NewFieldError(msg, append([]any{"body"}, loc...)...))
	}
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if creating && in.Name == nil {
		bad("name is required", "name")
	} else if n := strings.TrimSpace(p.Name); n == "" || len(p.Name) > MaxPresetNameBytes || !utf8.ValidString(p.Name) {
		bad(fmt.Sprintf("name must be 1 to %d bytes of UTF-8 text", MaxPresetNameBytes), "name")
	}
	if len(p.Description) > MaxPresetDescriptionBytes || !utf8.ValidString(p.Description) {
		bad(fmt.Sprintf("description must be at most %d bytes of UTF-8 text", MaxPresetDescriptionBytes), "description")
	}

	// The command: ffmpeg_command or ffmpeg_commands, and a command_type
	// that agrees (or none, which follows from which one was sent).
	switch {
	case in.FFmpegCommand != nil && in.FFmpegCommands != nil:
		bad("send ffmpeg_command (one command) or ffmpeg_commands (a chain), not both", "ffmpeg_commands")
	case in.FFmpegCommand != nil:
		p.FFmpegCommands = []string{*in.FFmpegCommand}
		p.CommandType = store.TypeFFmpegCommand
	case in.FFmpegCommands != nil:
		p.FFmpegCommands = in.FFmpegCommands
		p.CommandType = store.TypeChainedCommand
	case creating:
		bad("a preset needs ffmpeg_command or ffmpeg_commands", "ffmpeg_command")
	}
	if in.CommandType != nil {
		switch t := store.CommandType(*in.CommandType); {
		case t != store.TypeFFmpegCommand && t != store.TypeChainedCommand:
			bad("command_type must be FFMPEG_COMMAND or CHAINED_COMMAND", "command_type")
		case in.FFmpegCommand == nil && in.FFmpegCommands == nil && t != p.CommandType:
			bad(fmt.Sprintf("command_type %s does not match the preset's command; send the command with it", t), "command_type")
		case in.FFmpegCommand != nil && t != store.TypeFFmpegCommand:
			bad("command_type CHAINED_COMMAND needs ffmpeg_commands, a list", "command_type")
		case in.FFmpegCommands != nil && t != store.TypeChainedCommand:
			bad("command_type FFMPEG_COMMAND needs ffmpeg_command, one string", "command_type")
		}
	}
	if in.InputFileKeys != nil {
		p.InputFileKeys = in.InputFileKeys
	}
	seen := map[string]bool{}
	for i, k := range p.InputFileKeys {
		if seen[k] {
			bad(fmt.Sprintf("input_file_keys lists %s twice", k), "input_file_keys", i)
		}
		seen[k] = true
	}
	if in.OutputFiles != nil {
		p.OutputFiles = in.OutputFiles
	}
	if p.OutputFiles == nil {
		p.OutputFiles = map[string]string{}
	}
	if in.MetadataSet {
		p.Metadata = in.Metadata
	}
	problems = append(problems, checkMetadata(p.Metadata)...)
	problems = append(problems, checkSetOutputs(p.OutputFiles, "output_file_definitions")...)
	if len(problems) > 0 {
		return problems
	}

	// The commands and files, by the rules of a submission. Inputs are
	// checked by alias only: their URLs come with each execute.
	field := fieldCommand
	if p.CommandType == store.TypeChainedCommand {
		field = fieldCommands
	}
	inputs := make(map[string]string, len(p.InputFileKeys))
	for _, k := range p.InputFileKeys {
		inputs[k] = ""
	}
	spec := template.Spec{Commands: p.FFmpegCommands, CommandField: field, InputFiles: inputs, OutputFiles: p.OutputFiles}
	tmpl, err := template.Parse(spec)
	if err != nil {
		var errs template.Errors
		if !errors.As(err, &errs) {
			return template.Errors{template.NewFieldError(err.Error(), "body")}
		}
		problems = append(problems, presetLocs(errs)...)
		return problems
	}
	return append(problems, presetLocs(policy.Check(tmpl, field))...)
}

// presetLocs names a preset's own fields in locations of the submission
// rules: input_files → input_file_keys, output_files →
// output_file_definitions.
func presetLocs(errs template.Errors) template.Errors {
	for i, p := range errs {
		if len(p.Loc) > 1 {
			loc := slices.Clone(p.Loc)
			switch loc[1] {
			case "input_files":
				loc[1] = "input_file_keys"
			case "output_files":
				loc[1] = "output_file_definitions"
			}
			errs[i].Loc = loc
		}
		errs[i].Msg = strings.NewReplacer("input_files", "input_file_keys", "output_files", "output_file_definitions").Replace(p.Msg)
	}
	return errs
}
