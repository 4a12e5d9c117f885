package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// List paging, as the contract sets it.
const (
	DefaultListLimit = 50
	MaxListLimit     = 100
)

// POST /api/v1/run-ffmpeg-command
func (h *handler) runCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	var req api.RunCommandRequest
	if !decodeBody(w, body, &req) {
		return
	}
	if req.FFmpegCommand == nil {
		writeValidation(w, template.Errors{field("ffmpeg_command is required", "body", "ffmpeg_command")})
		return
	}
	sub := engine.SubmitRequest{
		InputFiles:      req.InputFiles,
		OutputFiles:     req.OutputFiles,
		FFmpegCommand:   *req.FFmpegCommand,
		Metadata:        req.Metadata,
		OriginalRequest: body,
	}
	if req.WebhookURL != nil {
		sub.WebhookURL = *req.WebhookURL
	}
	if req.MaxCommandRunSeconds != nil {
		sub.MaxRunSeconds = *req.MaxCommandRunSeconds
		if sub.MaxRunSeconds == 0 {
			writeValidation(w, template.Errors{field("max_command_run_seconds must be more than 0", "body", "max_command_run_seconds")})
			return
		}
	}
	cmd, err := h.eng.Submit(r.Context(), accountFrom(r.Context()).ID, sub)
	var invalid *engine.ValidationError
	switch {
	case errors.As(err, &invalid):
		writeValidation(w, invalid.Problems)
	case err != nil:
		h.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, api.CommandID{CommandID: cmd.ID})
	}
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
	var problems template.Errors
	limit, offset := DefaultListLimit, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			problems = append(problems, field(fmt.Sprintf("limit must be a whole number from 1 to %d", MaxListLimit), "query", "limit"))
		}
		limit = min(n, MaxListLimit) // integrations ask for more and page on; cap, don't refuse
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			problems = append(problems, field("offset must be a whole number, 0 or more", "query", "offset"))
		}
		offset = n
	}
	status := store.Status(strings.ToUpper(q.Get("status")))
	if status != "" && !status.Valid() {
		problems = append(problems, field("status must be one of QUEUED, PROCESSING, SUCCESS, FAILED", "query", "status"))
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

// decodeBody parses a JSON object into v: unparseable JSON is a 400, a field
// of the wrong type a 422 naming the field. Unknown fields are ignored, as
// the contract requires. It compacts nothing: body is echoed as sent.
func decodeBody(w http.ResponseWriter, body []byte, v any) bool {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		writeError(w, http.StatusBadRequest, api.CodeInvalidRequest, "The request body is empty; send a JSON object.", nil)
		return false
	}
	err := json.Unmarshal(trimmed, v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		writeError(w, http.StatusBadRequest, api.CodeInvalidRequest,
			"The request body is not valid JSON: "+err.Error()+".", nil)
	case errors.As(err, &typ):
		loc := []any{"body"}
		if typ.Field != "" {
			for _, p := range strings.Split(typ.Field, ".") {
				loc = append(loc, p)
			}
			writeValidation(w, template.Errors{field(fmt.Sprintf("%s must be %s, not %s", typ.Field, describeType(typ.Type.String()), typ.Value), loc...)})
		} else {
			writeValidation(w, template.Errors{field("the request body must be a JSON object", loc...)})
		}
	default:
		writeError(w, http.StatusBadRequest, api.CodeInvalidRequest, "The request body is not valid JSON.", nil)
	}
	return false
}

func describeType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map[string]string"):
		return "an object of strings"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.Contains(goType, "float") || strings.Contains(goType, "int"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	}
	return "of another type"
}
