package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/template"
)

// jsonObject is a request body read field by field, so that each field's
// problem is reported on that field (with the contract's loc), unknown
// fields are ignored, and field names match exactly, as JSON means them
// (encoding/json would also accept "FFMPEG_COMMAND").
type jsonObject struct {
	fields   map[string]json.RawMessage
	problems template.Errors
	body     []byte // the request body, as sent
}

// parseObject parses body as one JSON object. An unparseable body answers
// 400; a body that is JSON but not an object, 422. ok is false when it has
// answered.
func parseObject(w http.ResponseWriter, body []byte) (obj *jsonObject, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err != nil {
		msg := "The request body is not valid JSON: " + err.Error() + "."
		if errors.Is(err, io.EOF) {
			msg = "The request body is empty; send a JSON object."
		}
		writeError(w, http.StatusBadRequest, api.CodeInvalidRequest, msg, nil)
		return nil, false
	}
	if _, isObject := v.(map[string]any); !isObject {
		writeValidation(w, template.Errors{template.NewFieldError("the request body must be a JSON object", "body")})
		return nil, false
	}
	var fields map[string]json.RawMessage
	json.Unmarshal(body, &fields) // valid: checked above
	return &jsonObject{fields: fields}, true
}

func (o *jsonObject) present(name string) bool {
	raw, ok := o.fields[name]
	return ok && string(raw) != "null"
}

func (o *jsonObject) bad(name, msg string, loc ...any) {
	o.problems = append(o.problems, template.NewFieldError(msg, append([]any{"body", name}, loc...)...))
}

// string reads a string field; absent or null gives "", false.
func (o *jsonObject) string(name string) (string, bool) {
	if !o.present(name) {
		return "", false
	}
	var s string
	if json.Unmarshal(o.fields[name], &s) != nil {
		o.bad(name, fmt.Sprintf("%s must be a string", name))
		return "", false
	}
	return s, true
}

// stringMap reads an object whose values are strings, naming each bad
// entry; absent or null gives nil.
func (o *jsonObject) stringMap(name, valueIs string) map[string]string {
	if !o.present(name) {
		return nil
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(o.fields[name], &raw) != nil {
		o.bad(name, fmt.Sprintf("%s must be an object mapping aliases to %s", name, valueIs))
		return nil
	}
	m := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) != nil {
			o.bad(name, fmt.Sprintf("%s.%s must be a string: %s", name, k, valueIs), k)
			continue
		}
		m[k] = s
	}
	return m
}

// anyMap reads an object with any values, numbers kept exactly as sent
// (json.Number), so metadata echoes back unchanged; absent or null gives nil.
func (o *jsonObject) anyMap(name string) map[string]any {
	if !o.present(name) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(o.fields[name]))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		o.bad(name, fmt.Sprintf("%s must be an object", name))
		return nil
	}
	return m
}

// number reads a numeric field; absent or null gives nil.
func (o *jsonObject) number(name string) *float64 {
	if !o.present(name) {
		return nil
	}
	var f float64
	if json.Unmarshal(o.fields[name], &f) != nil {
		o.bad(name, fmt.Sprintf("%s must be a number", name))
		return nil
	}
	return &f
}

// readObject reads a size-capped JSON object body, answering (and
// returning ok false) when it is too large, unreadable or not an object.
// The raw bytes are kept in obj.body.
func (h *handler) readObject(w http.ResponseWriter, r *http.Request) (obj *jsonObject, ok bool) {
	body, ok := h.readBody(w, r)
	if !ok {
		return nil, false
	}
	obj, ok = parseObject(w, body)
	if ok {
		obj.body = body
	}
	return obj, ok
}

// requiredString reads a string field that must be present, naming it
// with msg when it is absent or null.
func (o *jsonObject) requiredString(name, msg string) string {
	s, ok := o.string(name)
	if !ok && !o.present(name) {
		o.bad(name, msg)
	}
	return s
}
