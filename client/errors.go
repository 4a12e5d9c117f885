package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openrender/openrender/api"
)

// Error is a 4xx or 5xx answer, decoded from the contract's error body
// {"error", "message", "detail"}. Get it with errors.As:
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Code == api.CodeValidationError {
//		for _, d := range apiErr.Detail { fmt.Println(d.Loc, d.Msg) }
//	}
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the body's "error": one of the api.Code* constants
	// (VALIDATION_ERROR, NOT_FOUND, ...). Empty when the answer was not
	// the contract's JSON (a proxy's HTML page, say).
	Code string
	// Message is the body's "message", a sentence a person can act on;
	// without a JSON body, the start of the body's text.
	Message string
	// Detail names the fields at fault, when there are some.
	Detail []api.ErrorDetail
	// RetryAfter is the Retry-After of a 429 (or 503), zero if none.
	RetryAfter time.Duration
}

// Error formats the status, code, message and each field at fault.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "openrender: %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for _, d := range e.Detail {
		b.WriteString("; " + locString(d.Loc) + ": " + d.Msg)
	}
	return b.String()
}

// locString writes a detail's loc as a dotted path: body.output_files.out_video.
func locString(loc []any) string {
	parts := make([]string, len(loc))
	for i, p := range loc {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

func decodeError(resp *http.Response) *Error {
	e := &Error{StatusCode: resp.StatusCode}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var wire api.Error
	if err := json.Unmarshal(body, &wire); err == nil && (wire.Error != "" || wire.Message != "") {
		e.Code, e.Message, e.Detail = wire.Error, wire.Message, wire.Detail
		return e
	}
	// Not the contract's body: keep a readable start of whatever it was.
	text := strings.TrimSpace(strings.ToValidUTF8(string(body), ""))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	e.Message = text
	return e
}

// CommandError says that a command ended FAILED; (*Command).Err returns
// it. ErrorStatus is one of the contract's error_status words
// (FFMPEG_FAILED, UNREACHABLE_INPUT_FILE, TIMEOUT, CANCELLED, ...).
type CommandError struct {
	CommandID    string
	ErrorStatus  string
	ErrorMessage string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("openrender: command %s failed: %s", e.CommandID, e.ErrorStatus)
	if e.ErrorMessage != "" {
		msg += ": " + e.ErrorMessage
	}
	return msg
}
