package notify

import (
	"context"
	"time"

	"github.com/openrender/openrender/api"
)

// Event says that a command reached SUCCESS or FAILED.
type Event struct {
	// ID identifies the event; it is the webhook-id of the webhook event
	// for the same outcome, when there is one.
	ID        string
	AccountID string
	// Command is the object GET /api/v1/commands/{id} returns.
	Command api.Command
	// Payload is the webhook body: {"data": Command, "timestamp": Time in
	// Unix milliseconds}, marshalled once.
	Payload []byte
	// Time is when the command finished.
	Time time.Time
}

// Notifier hears about finished commands. Notify is called once per
// finished command, after the outcome is stored, from a goroutine of the
// engine process that finished it; calls for different commands may run
// at the same time. An error is logged, not retried. Notify should return
// promptly: the engine waits for running calls when it stops.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, e Event) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, e Event) error { return f(ctx, e) }
