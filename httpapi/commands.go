package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// bodyReadTimeout bounds reading a JSON request body.
const bodyReadTimeout = time.Minute

// POST /api/v1/run-ffmpeg-command
func (h *handler) runCommand(w http.ResponseWriter, r *http.Request) {
	sub, ok := h.readSubmitRequest(w, r)
	if !ok {
		return
	}
	cmd, err := h.eng.Submit(r.Context(), accountFrom(r.Context()).ID, sub)
	if h.writeFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, api.CommandID{CommandID: cmd.ID})
}

// POST /api/v1/validate-ffmpeg-command: the validation of run-ffmpeg-command
// alone, on the same body. It answers what would run, so a client (or a
// person writing a preset) can see the argv before spending a run on it.
func (h *handler) validateCommand(w http.ResponseWriter, r *http.Request) {
	sub, ok := h.readSubmitRequest(w, r)
	if !ok {
		return
	}
	v, err := h.eng.Validate(sub)
	if h.writeFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, api.Validation{Valid: true, FFmpegCommands: v.Argv})
}

// readSubmitRequest reads a run-ffmpeg-command body, answering (and
// returning ok false) when it is unreadable or a field has the wrong type.
func (h *handler) readSubmitRequest(w http.ResponseWriter, r *http.Request) (engine.SubmitRequest, bool) {
	obj, ok := h.readObject(w, r)
	if !ok {
		return engine.SubmitRequest{}, false
	}
	sub := engine.SubmitRequest{
		InputFiles:      obj.stringMap("input_files", "the input file's URL"),
		OutputFiles:     obj.stringMap("output_files", "the output file's name"),
		FFmpegCommand:   obj.requiredString("ffmpeg_command", "ffmpeg_command is required"),
		Metadata:        obj.anyMap("metadata"),
		MaxRunSeconds:   obj.number("max_command_run_seconds"),
		OriginalRequest: obj.body,
	}
	sub.WebhookURL, _ = obj.string("webhook_url")
	if len(obj.problems) > 0 {
		writeValidation(w, obj.problems)
		return engine.SubmitRequest{}, false
	}
	return sub, true
}

// GET /api/v1/commands/{id}
func (h *handler) getCommand(w http.ResponseWriter, r *http.Request) {
	info, err := h.eng.Get(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"))
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No command with that id exists in your account.", nil)
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	obj, err := h.eng.CommandObject(r.Context(), info)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

// GET /api/v1/commands?limit&offset&status
func (h *handler) listCommands(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset, problems := pageParams(q)
	status := store.Status(strings.ToUpper(q.Get("status")))
	if status != "" && !status.Valid() {
		problems = append(problems, template.NewFieldError("status must be one of QUEUED, PROCESSING, SUCCESS, FAILED", "query", "status"))
	}
	if len(problems) > 0 {
		writeValidation(w, problems)
		return
	}
	infos, err := h.eng.List(r.Context(), accountFrom(r.Context()).ID, engine.ListQuery{Status: status, Limit: limit, Offset: offset})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	page := api.CommandList{Commands: make([]api.Command, 0, len(infos)), Limit: limit, Offset: offset}
	for _, info := range infos {
		obj, err := h.eng.CommandObject(r.Context(), info)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		page.Commands = append(page.Commands, obj)
	}
	writeJSON(w, http.StatusOK, page)
}

// readBody reads a size-capped request body, answering 413 past the cap.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	// A client dripping a body byte by byte must not hold a connection
	// (and, at shutdown, the server) for long.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge,
			fmt.Sprintf("The request body is larger than %d bytes.", h.cfg.MaxBodyBytes), nil)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, api.CodeInvalidRequest, "The request body could not be read.", nil)
		return nil, false
	}
	return body, true
}
