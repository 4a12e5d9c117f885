package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/template"
)

// writeJSON answers status with v as JSON. HTML escaping is off so that
// storage URLs keep their '&' rather than "\u0026".
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"INTERNAL_ERROR","message":"The server could not encode its answer."}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeError answers with the contract's error body.
func writeError(w http.ResponseWriter, status int, code, message string, detail []api.ErrorDetail) {
	writeJSON(w, status, api.Error{Error: code, Message: message, Detail: detail})
}

// writeValidation answers 422 with one detail entry per problem.
func writeValidation(w http.ResponseWriter, problems template.Errors) {
	detail := make([]api.ErrorDetail, len(problems))
	for i, p := range problems {
		typ := p.Type
		if typ == "" {
			typ = "value_error"
		}
		detail[i] = api.ErrorDetail{Loc: p.Loc, Msg: p.Msg, Type: typ}
	}
	msg := "The request is invalid."
	if len(problems) == 1 {
		msg = problems[0].Msg
	} else if len(problems) > 1 {
		msg = problems[0].Msg + " (and " + strconv.Itoa(len(problems)-1) + " more problems; see detail)"
	}
	writeError(w, http.StatusUnprocessableEntity, api.CodeValidationError, msg, detail)
}

// writeFailure answers a failed engine call: 422 for a
// *engine.ValidationError, 500 for anything else. It reports whether err
// was a failure (and so answered).
func (h *handler) writeFailure(w http.ResponseWriter, r *http.Request, err error) bool {
	var invalid *engine.ValidationError
	switch {
	case err == nil:
		return false
	case errors.As(err, &invalid):
		writeValidation(w, invalid.Problems)
	default:
		h.internalError(w, r, err)
	}
	return true
}
