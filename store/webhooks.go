package store

import (
	"context"
	"time"
)

// WebhookConfig is an account's webhook: where every finished command of
// the account is announced, unless the command names its own webhook_url.
type WebhookConfig struct {
	AccountID string
	URL       string
	// Secret signs deliveries; empty means unsigned. It is stored because
	// signing needs it, and never returned by the API.
	Secret string
	// IsActive is false once ConsecutiveFailures reached the engine's
	// limit; DisabledAt is then set. PutWebhookConfig re-enables.
	IsActive            bool
	ConsecutiveFailures int
	DisabledAt          time.Time // zero while active
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// EventState is where a webhook event is in its life.
type EventState string

// The event states. Pending events are waiting for (or in) an attempt; the
// other three are final until a redelivery makes the event pending again.
const (
	EventPending      EventState = "PENDING"
	EventDelivered    EventState = "DELIVERED"
	EventFailed       EventState = "FAILED"        // every attempt of the schedule failed
	EventNotDelivered EventState = "NOT_DELIVERED" // never sent: the account webhook was disabled or deleted
)

// WebhookEvent is one announcement of one finished command to one URL,
// created in the same transaction that finishes the command (see
// Outcome.Event), so a command that reached SUCCESS or FAILED always has its
// event, and an event always has its finished command.
type WebhookEvent struct {
	// ID is the Standard Webhooks "webhook-id": the same on every attempt.
	ID        string
	AccountID string
	CommandID string
	// URL and Secret are where and how the event is sent. For an event of
	// the account webhook (ToAccountWebhook) they are read from the
	// account's WebhookConfig at every attempt instead, so a PUT that
	// changes the URL or rotates the secret applies to pending retries.
	URL              string
	Secret           string
	ToAccountWebhook bool
	// Payload is the exact request body, marshalled once when the event is
	// created, so every attempt sends (and signs) the same bytes.
	Payload []byte
	State   EventState
	// Attempts counts attempts started. MaxAttempts is the last attempt the
	// schedule allows.
	Attempts    int
	MaxAttempts int
	// NextAttemptAt is when a pending event is due.
	NextAttemptAt time.Time
	// LeaseOwner holds the event while an attempt is in flight, until
	// LeaseExpiresAt; a lease that expired means the sender died.
	LeaseOwner     string
	LeaseExpiresAt time.Time
	// LastError says why the latest attempt failed, or why the event was
	// not delivered.
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WebhookDelivery is one attempt in the delivery log.
type WebhookDelivery struct {
	ID        string
	EventID   string
	AccountID string
	CommandID string
	URL       string
	// Attempt numbers the event's attempts from 1. A record with Attempt 0
	// says the event was not sent at all (Error says why).
	Attempt    int
	AttemptAt  time.Time
	Finished   bool // false while the attempt is in flight
	Success    bool
	StatusCode int // 0 when no HTTP answer arrived
	Latency    time.Duration
	Error      string
	// ResponseBody is the start of the receiver's answer (the engine keeps
	// at most 1 KiB).
	ResponseBody []byte
}

// WebhookClaim is one attempt a sender must make now: the event as it is
// to be sent (URL and Secret already resolved) and the delivery record of
// this attempt, which FinishWebhookAttempts completes.
type WebhookClaim struct {
	Event    *WebhookEvent
	Delivery *WebhookDelivery
}

// WebhookResult is the outcome of one claimed attempt.
type WebhookResult struct {
	EventID    string
	DeliveryID string
	Success    bool
	StatusCode int
	Latency    time.Duration
	Error      string
	// ResponseBody: at most 1 KiB of the answer.
	ResponseBody []byte
	// NextAttemptAt is when to retry a failed attempt; zero means the
	// schedule is used up and the event ends FAILED.
	NextAttemptAt time.Time
	// Now is the time of the result.
	Now time.Time
}

// DeliveryQuery selects a page of an account's delivery log, newest first.
type DeliveryQuery struct {
	AccountID string
	CommandID string // empty: every command
	Limit     int
	Offset    int
}

// Webhooks stores webhook configuration, pending events and the delivery log.
//
// Sending is leased like running a command: ClaimWebhookAttempts hands each
// due event to exactly one sender and opens its delivery record in one
// transaction, and FinishWebhookAttempts records results only for claims the
// caller still holds. An attempt whose sender died before recording a result
// is closed as failed ("sender lost") when its lease is found expired, and
// the next attempt gets the next number, so no attempt number is ever sent
// twice, even by two engine processes.
type Webhooks interface {
	// PutWebhookConfig creates or replaces the account's webhook, active and
	// with no failures counted.
	PutWebhookConfig(ctx context.Context, c *WebhookConfig) error
	// GetWebhookConfig returns the account's webhook, or ErrNotFound.
	GetWebhookConfig(ctx context.Context, accountID string) (*WebhookConfig, error)
	// DeleteWebhookConfig removes the account's webhook (ErrNotFound if
	// none). Its pending events end NOT_DELIVERED.
	DeleteWebhookConfig(ctx context.Context, accountID string, now time.Time) error

	// ClaimWebhookAttempts claims up to limit pending events due at now for
	// owner until leaseUntil, starting one attempt of each. An event of the
	// account webhook whose webhook is now disabled or deleted ends
	// NOT_DELIVERED instead of being claimed; so does nothing else.
	ClaimWebhookAttempts(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]*WebhookClaim, error)
	// FinishWebhookAttempts records results of attempts owner claimed, in
	// one transaction. A result for a claim owner no longer holds is
	// skipped. For events of the account webhook it keeps the webhook's
	// ConsecutiveFailures (reset by a success) and, when a failure brings it
	// to disableAfter, disables the webhook: IsActive false, DisabledAt now,
	// and every pending event of it ends NOT_DELIVERED.
	FinishWebhookAttempts(ctx context.Context, owner string, disableAfter int, results []WebhookResult) error
	// NextWebhookWake returns the earliest time a pending event becomes
	// claimable (its due time, or the expiry of its lease), and false when
	// no event is pending.
	NextWebhookWake(ctx context.Context) (time.Time, bool, error)

	// GetWebhookEvent returns any account's event, or ErrNotFound.
	GetWebhookEvent(ctx context.Context, id string) (*WebhookEvent, error)
	// GetWebhookDelivery returns any account's delivery record, or ErrNotFound.
	GetWebhookDelivery(ctx context.Context, id string) (*WebhookDelivery, error)
	// ListWebhookDeliveries returns a page of the delivery log.
	ListWebhookDeliveries(ctx context.Context, q DeliveryQuery) ([]*WebhookDelivery, error)
	// RedeliverWebhookEvent makes the event due at now for exactly one more
	// attempt (or, if it is still pending, moves its next attempt to now).
	// An event with an attempt in flight is ErrConflict.
	RedeliverWebhookEvent(ctx context.Context, id string, now time.Time) error
}
