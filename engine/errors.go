package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openrender/openrender/template"
)

// The error_status values a FAILED command carries: upper-case words a
// program can branch on, as the contract lists them.
const (
	ErrorInvalidInputFile     = "INVALID_INPUT_FILE"
	ErrorUnreachableInputFile = "UNREACHABLE_INPUT_FILE"
	ErrorInputTooLarge        = "INPUT_TOO_LARGE"
	ErrorFFmpegFailed         = "FFMPEG_FAILED"
	ErrorTimeout              = "TIMEOUT"
	ErrorOutputMissing        = "OUTPUT_MISSING"
	ErrorOutputTooLarge       = "OUTPUT_TOO_LARGE"
	ErrorStorageFailed        = "STORAGE_FAILED"
	ErrorCancelled            = "CANCELLED"
	ErrorWorkerLost           = "WORKER_LOST"
	ErrorInternal             = "INTERNAL_ERROR"
)

// Errors the engine's methods return, for errors.Is.
var (
	// ErrNotFound: no such command in the caller's account.
	ErrNotFound = errors.New("engine: not found")
	// ErrUnauthorized: the API key is missing, malformed or unknown.
	ErrUnauthorized = errors.New("engine: unauthorized")
	// ErrStopped: the engine is shutting down.
	ErrStopped = errors.New("engine: stopped")
	// ErrCommandRunning: the request needs a finished command.
	ErrCommandRunning = errors.New("engine: the command has not finished")
)

// ValidationError lists every problem found in a submitted request. The
// HTTP layer answers it with 422 and one detail entry per problem.
type ValidationError struct {
	Problems template.Errors
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Msg
	}
	return "invalid request: " + strings.Join(msgs, "; ")
}

// runError is how a run ends in FAILED: one of the error_status values and a
// message a user can act on.
type runError struct {
	status  string
	message string
}

func (e *runError) Error() string { return e.status + ": " + e.message }

func failf(status, format string, args ...any) *runError {
	return &runError{status: status, message: fmt.Sprintf(format, args...)}
}
