// Package api holds the JSON shapes of OpenRender's HTTP contract (the
// RenderIO/Rendi API): the command and file objects, list pages and the
// error body. The HTTP handlers, the webhook payloads and the Go client all
// use these types, so the object a client polls and the object a webhook
// carries can't drift apart.
package api

import (
	"encoding/json"
	"time"

	"github.com/openrender/openrender/media"
)

// TimeFormat is how times appear on the wire: RFC 3339, UTC, milliseconds.
// (Nanosecond fractions break some clients' ISO parsers.)
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Time marshals as TimeFormat in UTC.
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(TimeFormat) + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler; it accepts any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Time(v)
	return nil
}

// CommandID is the answer to a submit.
type CommandID struct {
	CommandID string `json:"command_id"`
}

// Validation is the answer to POST /api/v1/validate-ffmpeg-command for a
// valid request (an invalid one gets the 422 error body). FFmpegCommands
// holds, per command, the full argv the engine would run, program name
// first, with placeholders replaced by work-directory paths.
type Validation struct {
	Valid          bool       `json:"valid"`
	FFmpegCommands [][]string `json:"ffmpeg_commands"`
}

// Command is the command object: what GET /api/v1/commands/{id} returns and
// what a webhook carries in "data".
type Command struct {
	CommandID   string `json:"command_id"`
	Status      string `json:"status"`
	CommandType string `json:"command_type"`
	// The timings are present once the command has finished.
	TotalProcessingSeconds  *float64 `json:"total_processing_seconds,omitempty"`
	FFmpegCommandRunSeconds *float64 `json:"ffmpeg_command_run_seconds,omitempty"`
	// The error fields are present only when FAILED.
	ErrorStatus  string `json:"error_status,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	// Progress (0–100) and ETASeconds are present only while PROCESSING,
	// once known (extension: ffmpeg's own progress against the planned
	// duration; absent when that is unknown, never a guess).
	Progress        *float64              `json:"progress,omitempty"`
	ETASeconds      *float64              `json:"eta_seconds,omitempty"`
	Metadata        map[string]any        `json:"metadata"` // as submitted; null if none
	OriginalRequest json.RawMessage       `json:"original_request"`
	OutputFiles     map[string]OutputFile `json:"output_files"`
	CreatedAt       Time                  `json:"created_at"`
	UpdatedAt       Time                  `json:"updated_at"`
}

// OutputFile is an entry of a command's output_files. StorageURL is null
// until the file is stored; FileID is known from submission on.
type OutputFile struct {
	FileID     string  `json:"file_id"`
	StorageURL *string `json:"storage_url"`
	Status     string  `json:"status"`
	FileName   string  `json:"filename"`
	SizeMBytes float64 `json:"size_mbytes"`
	IsDeleted  bool    `json:"is_deleted"`
	media.Info
}

// CommandList is the answer to GET /api/v1/commands.
type CommandList struct {
	Commands []Command `json:"commands"`
	Limit    int       `json:"limit"`
	Offset   int       `json:"offset"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error   string        `json:"error"`
	Message string        `json:"message"`
	Detail  []ErrorDetail `json:"detail,omitempty"`
}

// ErrorDetail names one field at fault, FastAPI-style.
type ErrorDetail struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// The error codes of the contract.
const (
	CodeInvalidRequest = "INVALID_REQUEST"
	CodeUnauthorized   = "UNAUTHORIZED"
	// CodeForbidden answers a storage link whose signature is wrong or
	// expired (403; the hosted services' list has no links to check).
	CodeForbidden = "FORBIDDEN"
	CodeNotFound  = "NOT_FOUND"
	// CodeMethodNotAllowed answers a known path with the wrong method (405).
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	// CodeConflict answers a request the resource's current state refuses
	// (409), such as a redelivery while an attempt is in flight.
	CodeConflict        = "CONFLICT"
	CodePayloadTooLarge = "PAYLOAD_TOO_LARGE"
	CodeValidationError = "VALIDATION_ERROR"
	CodeRateLimited     = "RATE_LIMITED"
	CodeInternalError   = "INTERNAL_ERROR"
)

// SizeMBytes converts a byte count to the contract's size_mbytes:
// mebibytes, rounded to 4 decimals so small files don't show as 0.
func SizeMBytes(n int64) float64 {
	const mib = 1 << 20
	v := float64(n) / mib
	return float64(int64(v*10000+0.5)) / 10000
}

// WebhookConfig is what GET /api/v1/webhook-config returns for a configured
// webhook. The secret is never returned. An account without a webhook gets
// WebhookNotConfigured instead.
type WebhookConfig struct {
	Configured          bool   `json:"configured"`
	URL                 string `json:"url"`
	IsActive            bool   `json:"is_active"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	DisabledAt          *Time  `json:"disabled_at"`
}

// WebhookNotConfigured is GET /api/v1/webhook-config's answer when the
// account has no webhook.
type WebhookNotConfigured struct {
	Configured bool `json:"configured"`
}

// WebhookConfigSaved answers PUT /api/v1/webhook-config.
type WebhookConfigSaved struct {
	Success bool   `json:"success"`
	URL     string `json:"url"`
}

// Success answers a request that has nothing else to say (DELETE).
type Success struct {
	Success bool `json:"success"`
}

// Delivery outcomes in the delivery log.
const (
	DeliverySucceeded    = "SUCCESS"
	DeliveryFailed       = "FAILED"
	DeliveryInFlight     = "IN_FLIGHT"
	DeliveryNotDelivered = "NOT_DELIVERED" // the event was not sent (attempt 0)
)

// WebhookDelivery is one attempt in the delivery log (an extension).
type WebhookDelivery struct {
	DeliveryID string `json:"delivery_id"`
	// EventID is the webhook-id header: the same on every attempt of one event.
	EventID     string `json:"event_id"`
	CommandID   string `json:"command_id"`
	URL         string `json:"url"`
	Attempt     int    `json:"attempt"`
	AttemptedAt Time   `json:"attempted_at"`
	// Status is one of the Delivery* constants.
	Status string `json:"status"`
	// StatusCode is the receiver's HTTP status, null when none arrived.
	StatusCode *int     `json:"status_code"`
	LatencyMs  *float64 `json:"latency_ms"`
	Error      *string  `json:"error"`
	// ResponseBody is the start (up to 1 KiB) of the receiver's answer.
	ResponseBody string `json:"response_body"`
}

// WebhookDeliveryList is a page of the delivery log, newest first.
type WebhookDeliveryList struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
	Limit      int               `json:"limit"`
	Offset     int               `json:"offset"`
}

// Redelivery answers POST /api/v1/webhook-deliveries/{id}/redeliver: the
// event will be sent again at once as attempt number Attempt.
type Redelivery struct {
	Success bool   `json:"success"`
	EventID string `json:"event_id"`
	Attempt int    `json:"attempt"`
}
