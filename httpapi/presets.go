package httpapi

import (
	"errors"
	"net/http"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/store"
)

func (h *handler) presetRoutes() {
	h.mux.Handle("POST /api/v1/presets", h.authed(h.createPreset))
	h.mux.Handle("GET /api/v1/presets", h.authed(h.listPresets))
	h.mux.Handle("GET /api/v1/presets/{id}", h.authed(h.getPreset))
	h.mux.Handle("PUT /api/v1/presets/{id}", h.authed(h.updatePreset))
	h.mux.Handle("DELETE /api/v1/presets/{id}", h.authed(h.deletePreset))
	h.mux.Handle("POST /api/v1/presets/{id}/execute", h.authed(h.executePreset))
}

// POST /api/v1/presets → 201 with the preset.
func (h *handler) createPreset(w http.ResponseWriter, r *http.Request) {
	in, ok := h.readPresetFields(w, r)
	if !ok {
		return
	}
	p, err := h.eng.CreatePreset(r.Context(), accountFrom(r.Context()).ID, in)
	if h.writeFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, presetObject(p))
}

// GET /api/v1/presets?limit&offset: the system presets, then the account's.
func (h *handler) listPresets(w http.ResponseWriter, r *http.Request) {
	limit, offset, problems := pageParams(r.URL.Query())
	if len(problems) > 0 {
		writeValidation(w, problems)
		return
	}
	presets, err := h.eng.ListPresets(r.Context(), accountFrom(r.Context()).ID, limit, offset)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	page := api.PresetList{Presets: make([]api.Preset, 0, len(presets)), Limit: limit, Offset: offset}
	for _, p := range presets {
		page.Presets = append(page.Presets, presetObject(p))
	}
	writeJSON(w, http.StatusOK, page)
}

// GET /api/v1/presets/{id}
func (h *handler) getPreset(w http.ResponseWriter, r *http.Request) {
	p, err := h.eng.GetPreset(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"))
	if h.writePresetFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, presetObject(p))
}

// PUT /api/v1/presets/{id}: any subset of the fields; metadata replaces.
func (h *handler) updatePreset(w http.ResponseWriter, r *http.Request) {
	in, ok := h.readPresetFields(w, r)
	if !ok {
		return
	}
	p, err := h.eng.UpdatePreset(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"), in)
	if h.writePresetFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, presetObject(p))
}

// DELETE /api/v1/presets/{id}
func (h *handler) deletePreset(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := h.eng.DeletePreset(r.Context(), accountFrom(r.Context()).ID, id)
	if h.writePresetFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, api.PresetDeleted{Deleted: true, PresetID: id})
}

// POST /api/v1/presets/{id}/execute with input_files, metadata?, webhook_url?
func (h *handler) executePreset(w http.ResponseWriter, r *http.Request) {
	obj, ok := h.readObject(w, r)
	if !ok {
		return
	}
	req := engine.ExecuteRequest{
		InputFiles:      obj.stringMap("input_files", "the input file's URL"),
		Metadata:        obj.anyMap("metadata"),
		MaxRunSeconds:   obj.number("max_command_run_seconds"),
		OriginalRequest: obj.body,
	}
	req.WebhookURL, _ = obj.string("webhook_url")
	if !obj.present("input_files") {
		obj.bad("input_files", "input_files is required: the preset's input_file_keys mapped to URLs")
	}
	if len(obj.problems) > 0 {
		writeValidation(w, obj.problems)
		return
	}
	cmd, err := h.eng.ExecutePreset(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"), req)
	if h.writePresetFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, api.CommandID{CommandID: cmd.ID})
}

// readPresetFields reads a create or update body; fields not sent stay nil.
func (h *handler) readPresetFields(w http.ResponseWriter, r *http.Request) (engine.PresetFields, bool) {
	obj, ok := h.readObject(w, r)
	if !ok {
		return engine.PresetFields{}, false
	}
	var in engine.PresetFields
	str := func(name string) *string {
		if s, ok := obj.string(name); ok {
			return &s
		}
		return nil
	}
	in.Name = str("name")
	in.Description = str("description")
	in.CommandType = str("command_type")
	in.FFmpegCommand = str("ffmpeg_command")
	if obj.present("ffmpeg_commands") {
		in.FFmpegCommands = obj.stringList("ffmpeg_commands", "")
	}
	if obj.present("input_file_keys") {
		in.InputFileKeys = obj.stringList("input_file_keys", "")
	}
	if obj.present("output_file_definitions") {
		in.OutputFiles = obj.stringMap("output_file_definitions", "the output file's name")
	}
	if _, sent := obj.fields["metadata"]; sent {
		in.MetadataSet = true
		in.Metadata = obj.anyMap("metadata")
	}
	if len(obj.problems) > 0 {
		writeValidation(w, obj.problems)
		return engine.PresetFields{}, false
	}
	return in, true
}

// writePresetFailure answers the errors of the preset endpoints.
func (h *handler) writePresetFailure(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No preset with that id exists in your account.", nil)
		return true
	case errors.Is(err, engine.ErrPresetImmutable):
		writeError(w, http.StatusForbidden, api.CodeForbidden,
			"System presets can't be changed or deleted; create your own preset from its fields instead.", nil)
		return true
	}
	return h.writeFailure(w, r, err)
}

// presetObject renders a preset as the contract's preset object.
func presetObject(p *store.Preset) api.Preset {
	obj := api.Preset{
		PresetID:              p.ID,
		Name:                  p.Name,
		Description:           p.Description,
		CommandType:           string(p.CommandType),
		InputFileKeys:         p.InputFileKeys,
		OutputFileDefinitions: p.OutputFiles,
		Metadata:              p.Metadata,
		IsSystem:              engine.IsSystemPreset(p),
		CreatedAt:             api.Time(p.CreatedAt),
		UpdatedAt:             api.Time(p.UpdatedAt),
	}
	if p.CommandType == store.TypeChainedCommand {
		obj.FFmpegCommands = p.FFmpegCommands
	} else if len(p.FFmpegCommands) > 0 {
		obj.FFmpegCommand = p.FFmpegCommands[0]
	}
	if obj.InputFileKeys == nil {
		obj.InputFileKeys = []string{}
	}
	if obj.OutputFileDefinitions == nil {
		obj.OutputFileDefinitions = map[string]string{}
	}
	return obj
}
