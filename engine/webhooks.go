package engine

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/internal/fetch"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// MaxWebhookSecretBytes bounds a webhook secret.
const MaxWebhookSecretBytes = 256

// Errors of the webhook methods, for errors.Is.
var (
	// ErrAttemptInFlight: a redelivery was asked while an attempt of the
	// same event is being made.
	ErrAttemptInFlight = errors.New("engine: a delivery attempt of this event is in flight")
	// ErrWebhookDisabled: a redelivery to the account webhook was asked
	// while that webhook is disabled or deleted.
	ErrWebhookDisabled = errors.New("engine: the account webhook is disabled")
)

// webhookPayload is the body of every delivery.
type webhookPayload struct {
	Data      any   `json:"data"`
	Timestamp int64 `json:"timestamp"`
}

// PutWebhookConfig sets the account's webhook, active and with its failure
// count reset. An empty secret means deliveries are not signed.
func (e *Engine) PutWebhookConfig(ctx context.Context, accountID, url, secret string) (*store.WebhookConfig, error) {
	var problems template.Errors
	if err := fetch.CheckURL(url, e.cfg.AllowPrivateURLs); err != nil {
		problems = append(problems, template.NewFieldError(err.Error(), "body", "url"))
	}
	if len(secret) > MaxWebhookSecretBytes {
		problems = append(problems, template.NewFieldError(
			fmt.Sprintf("secret is %d bytes long; the limit is %d bytes", len(secret), MaxWebhookSecretBytes), "body", "secret"))
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	now := e.cfg.Now()
	if err := e.cfg.Store.PutWebhookConfig(ctx, &store.WebhookConfig{
		AccountID: accountID, URL: url, Secret: secret, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		return nil, err
	}
	return e.GetWebhookConfig(ctx, accountID)
}

// GetWebhookConfig returns the account's webhook, or ErrNotFound.
func (e *Engine) GetWebhookConfig(ctx context.Context, accountID string) (*store.WebhookConfig, error) {
	c, err := e.cfg.Store.GetWebhookConfig(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	return c, err
}

// DeleteWebhookConfig removes the account's webhook (ErrNotFound if none);
// its pending retries are dropped and logged as not delivered.
func (e *Engine) DeleteWebhookConfig(ctx context.Context, accountID string) error {
	err := e.cfg.Store.DeleteWebhookConfig(ctx, accountID, e.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// DeliveryQuery selects a page of the delivery log.
type DeliveryQuery struct {
	CommandID string // empty: every command
	Limit     int
	Offset    int
}

// WebhookDeliveries returns a page of the account's delivery log, newest first.
func (e *Engine) WebhookDeliveries(ctx context.Context, accountID string, q DeliveryQuery) ([]*store.WebhookDelivery, error) {
	return e.cfg.Store.ListWebhookDeliveries(ctx, store.DeliveryQuery{
		AccountID: accountID, CommandID: q.CommandID, Limit: q.Limit, Offset: q.Offset,
	})
}

// Redelivery says which event a redelivery sends, and the number its
// attempt will have.
type Redelivery struct {
	EventID string
	Attempt int
}

// Redeliver sends the event of one of the account's delivery records again,
// as one new attempt made at once.
func (e *Engine) Redeliver(ctx context.Context, accountID, deliveryID string) (*Redelivery, error) {
	d, err := e.cfg.Store.GetWebhookDelivery(ctx, deliveryID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.AccountID != accountID) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	ev, err := e.cfg.Store.GetWebhookEvent(ctx, d.EventID)
	if err != nil {
		return nil, err
	}
	if ev.ToAccountWebhook {
		cfg, err := e.cfg.Store.GetWebhookConfig(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !cfg.IsActive) {
			return nil, ErrWebhookDisabled
		}
		if err != nil {
			return nil, err
		}
	}
	err = e.cfg.Store.RedeliverWebhookEvent(ctx, ev.ID, e.cfg.Now())
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrAttemptInFlight
	}
	if err != nil {
		return nil, err
	}
	e.webhooks.Wake()
	// Numbered from the event as read before: the woken sender may claim
	// it before we could read it again.
	return &Redelivery{EventID: ev.ID, Attempt: ev.Attempts + 1}, nil
}

// announcement is what a finished command tells the outside world: the
// webhook event stored with the outcome (nil when the command has no
// webhook) and the event for in-process notifiers (nil when there are none).
type announcement struct {
	webhook  *store.WebhookEvent
	notifier *notify.Event
}

// announce prepares the announcement of outcome o of claim c. The payload
// is the command object exactly as GET /commands/{id} will return it once
// the outcome is stored, marshalled once here so every attempt sends the
// same bytes.
func (e *Engine) announce(ctx context.Context, c *claim, o store.Outcome) announcement {
	var a announcement
	target, secret, toAccount, state, why := e.webhookTarget(ctx, c)
	if target == "" && !toAccount && len(e.cfg.Notifiers) == 0 {
		return a
	}
	obj, err := e.CommandObject(ctx, finishedInfo(c.cmd, o))
	if err != nil {
		c.log.Error("could not render the command for its webhook", "err", err)
		return a
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as the HTTP API writes it: storage URLs keep their '&'
	if err := enc.Encode(webhookPayload{Data: obj, Timestamp: o.FinishedAt.UnixMilli()}); err != nil {
		c.log.Error("could not encode the webhook payload", "err", err)
		return a
	}
	payload := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	id := uuid.NewString()
	if target != "" || toAccount {
		a.webhook = &store.WebhookEvent{
			ID: id, AccountID: c.cmd.AccountID, CommandID: c.cmd.ID,
			URL: target, Secret: secret, ToAccountWebhook: toAccount,
			Payload: payload, State: state, LastError: why,
			MaxAttempts: len(e.cfg.WebhookSchedule), NextAttemptAt: o.FinishedAt,
			CreatedAt: o.FinishedAt,
		}
	}
	if len(e.cfg.Notifiers) > 0 {
		a.notifier = &notify.Event{ID: id, AccountID: c.cmd.AccountID, Command: obj, Payload: payload, Time: o.FinishedAt}
	}
	return a
}

// webhookTarget decides where the command's event goes: its own
// webhook_url (signed with the account's secret, if any), else the
// account webhook, else nowhere (empty target, toAccount false).
func (e *Engine) webhookTarget(ctx context.Context, c *claim) (target, secret string, toAccount bool, state store.EventState, why string) {
	cfg, err := e.cfg.Store.GetWebhookConfig(ctx, c.cmd.AccountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// Unknown: make an account event anyway; the sender reads the
		// config again at every attempt and drops the event if there is none.
		c.log.Warn("could not read the account webhook; the event will look again when it is sent", "err", err)
		cfg = nil
		if c.cmd.Spec.WebhookURL == "" {
			return "", "", true, store.EventPending, ""
		}
	}
	if u := c.cmd.Spec.WebhookURL; u != "" {
		if cfg != nil {
			secret = cfg.Secret
		}
		return u, secret, false, store.EventPending, ""
	}
	if cfg == nil {
		return "", "", false, "", ""
	}
	if !cfg.IsActive {
		return cfg.URL, "", true, store.EventNotDelivered, "not delivered: the account webhook is disabled"
	}
	return cfg.URL, "", true, store.EventPending, ""
}

// finishedInfo is the command as the store will hold it once outcome o is
// recorded (FinishCommand's writes, applied in memory).
func finishedInfo(cmd *store.Command, o store.Outcome) *CommandInfo {
	done := *cmd
	done.Status = o.Status
	done.ErrorStatus, done.ErrorMessage = o.ErrorStatus, o.ErrorMessage
	total, ffmpeg := o.TotalProcessingSeconds, o.FFmpegRunSeconds
	done.TotalProcessingSeconds, done.FFmpegRunSeconds = &total, &ffmpeg
	done.FinishedAt, done.UpdatedAt = o.FinishedAt, o.FinishedAt
	done.LeaseOwner, done.LeaseNode, done.LeaseExpiresAt = "", "", time.Time{}
	return &CommandInfo{Command: &done, Files: filesByAlias(o.Files)}
}

// announced runs once the outcome is stored: the sender is woken for the
// webhook event and the notifiers are called.
func (e *Engine) announced(c *claim, a announcement) {
	if a.webhook != nil {
		e.webhooks.Wake()
	}
	if a.notifier == nil {
		return
	}
	for _, n := range e.cfg.Notifiers {
		e.notifying.Add(1)
		go func() {
			defer e.notifying.Done()
			ctx, cancel := context.WithTimeout(context.Background(), e.cfg.NotifierTimeout)
			defer cancel()
			if err := n.Notify(ctx, *a.notifier); err != nil {
				c.log.Warn("notifier failed", "err", err)
			}
		}()
	}
}

// newWebhookSender makes the sender that Start runs. It is made in New so
// that the engine's fields never change once handlers may read them.
func newWebhookSender(cfg Config, log *slog.Logger, onResult func(store.WebhookResult)) (*notify.WebhookSender, error) {
	client := fetch.NewClient(fetch.Options{
		AllowPrivate: cfg.AllowPrivateURLs,
		NoRedirects:  true,
		UserAgent:    notify.UserAgent,
		// Many events go to few receivers: keep their connections.
		MaxIdleConnsPerHost: cmp.Or(max(cfg.WebhookSenders, 0), notify.DefaultSenders),
	})
	s, err := notify.NewWebhookSender(notify.SenderConfig{
		Store:          cfg.Store,
		Client:         client,
		Node:           cfg.NodeID,
		Schedule:       cfg.WebhookSchedule,
		Jitter:         cfg.WebhookJitter,
		AttemptTimeout: cfg.WebhookTimeout,
		DisableAfter:   cfg.WebhookDisableAfter,
		Senders:        cfg.WebhookSenders,
		OnResult:       onResult,
		Logger:         log,
		Now:            cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return s, nil
}
