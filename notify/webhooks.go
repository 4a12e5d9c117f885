package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/openrender/openrender/store"
)

// Defaults for SenderConfig fields left zero.
const (
	// DefaultAttemptTimeout: an attempt succeeds only on a 2xx answer within
	// this long, headers and body included.
	DefaultAttemptTimeout = 15 * time.Second
	// DefaultDisableAfter is how many consecutive failed attempts disable an
	// account webhook.
	DefaultDisableAfter = 8
	// DefaultSenders is how many attempts one process makes at once.
	DefaultSenders = 32
	// DefaultIdleWake is the longest the sender sleeps without looking at
	// the store, for events it was not told about (one whose process died
	// before its first attempt, on a store another process writes to).
	DefaultIdleWake = 30 * time.Second
	// ResponseBodyLimit is how much of a receiver's answer the delivery log keeps.
	ResponseBodyLimit = 1 << 10
)

// claimBatch bounds the events one claim transaction takes.
const claimBatch = 128

// drainLimit bounds what is read, and thrown away, of an answer past
// ResponseBodyLimit so the connection can be reused; past it the
// connection is closed instead.
const drainLimit = 64 << 10

// SenderConfig configures a WebhookSender. Store and Client are required.
type SenderConfig struct {
	// Store holds events, their leases and the delivery log. Required.
	Store store.Webhooks
	// Client sends the requests. It must not follow redirects (they count
	// as failures) and should refuse private addresses at connect time;
	// the engine passes its SSRF-guarded client. Required.
	Client *http.Client
	// Node names this process in lease owners. Default: a random id.
	Node string
	// Schedule: see DefaultRetrySchedule. It must agree with the
	// MaxAttempts of the events created (the engine uses its length).
	Schedule RetrySchedule
	// Jitter: see DefaultJitter. Negative means none.
	Jitter float64
	// AttemptTimeout: see DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// DisableAfter: see DefaultDisableAfter.
	DisableAfter int
	// Senders: see DefaultSenders.
	Senders int
	// LeaseDuration is how long a claimed attempt is held. If the process
	// dies mid-attempt, the event is retried this long after the claim.
	// Default: AttemptTimeout plus 30 s.
	LeaseDuration time.Duration
	// IdleWake: see DefaultIdleWake.
	IdleWake time.Duration
	// OnResult, if set, hears about every attempt's result as soon as it
	// is known (before it is recorded): for metrics. It must not block.
	// Default: nil.
	OnResult func(store.WebhookResult)
	// Logger receives delivery logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

func (c SenderConfig) withDefaults() (SenderConfig, error) {
	if c.Store == nil {
		return c, errors.New("notify: SenderConfig.Store is required")
	}
	if c.Client == nil {
		return c, errors.New("notify: SenderConfig.Client is required")
	}
	if c.Node == "" {
		c.Node = randomID()
	}
	if c.Schedule == nil {
		c.Schedule = DefaultRetrySchedule
	}
	if len(c.Schedule) == 0 {
		return c, errors.New("notify: SenderConfig.Schedule has no attempts")
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultJitter
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = DefaultDisableAfter
	}
	if c.Senders <= 0 {
		c.Senders = DefaultSenders
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = c.AttemptTimeout + 30*time.Second
	}
	if c.LeaseDuration <= c.AttemptTimeout {
		return c, errors.New("notify: SenderConfig.LeaseDuration must exceed AttemptTimeout")
	}
	if c.IdleWake <= 0 {
		c.IdleWake = DefaultIdleWake
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// WebhookSender delivers the webhook events of the state store. Several
// senders (in several processes) may share one store: each attempt is
// claimed by one of them. A sender sleeps until Wake is called, the next
// retry is due, or IdleWake passes; it never polls in a tight loop.
type WebhookSender struct {
	cfg   SenderConfig
	owner string
	wake  chan struct{}
	slots chan struct{}
}

// NewWebhookSender checks cfg and returns a sender; Run starts it.
func NewWebhookSender(cfg SenderConfig) (*WebhookSender, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &WebhookSender{
		cfg: cfg,
		// One owner per sender life: a restarted process never mistakes an
		// earlier life's claims for its own.
		owner: cfg.Node + "/" + randomID(),
		wake:  make(chan struct{}, 1),
		slots: make(chan struct{}, cfg.Senders),
	}, nil
}

// Config returns the sender's configuration with defaults applied.
func (s *WebhookSender) Config() SenderConfig { return s.cfg }

// Wake tells the sender that an event may be due now (a command just
// finished). It never blocks.
func (s *WebhookSender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx is done, then waits for the attempts in
// flight to end (each is bounded by AttemptTimeout) and records them.
func (s *WebhookSender) Run(ctx context.Context) {
	results := make(chan store.WebhookResult, s.cfg.Senders)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		s.record(results)
	}()
	var inFlight sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			inFlight.Wait()
			close(results)
			<-recorded
			return
		case <-s.wake:
		case <-timer.C:
		}
		wait := s.claimAndSend(ctx, results, &inFlight)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// claimAndSend starts every due attempt it has room for and returns how
// long to sleep before looking again (unless woken first).
func (s *WebhookSender) claimAndSend(ctx context.Context, results chan<- store.WebhookResult, inFlight *sync.WaitGroup) time.Duration {
	for {
		free := cap(s.slots) - len(s.slots)
		if free == 0 {
			// A finishing attempt frees a slot and wakes us.
			return s.cfg.IdleWake
		}
		limit := min(free, claimBatch)
		now := s.cfg.Now()
		claims, err := s.cfg.Store.ClaimWebhookAttempts(ctx, s.owner, now, now.Add(s.cfg.LeaseDuration), limit)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Logger.Error("webhook: claiming due events failed", "err", err)
			}
			return time.Second
		}
		for _, c := range claims {
			s.slots <- struct{}{}
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				r := s.attempt(c)
				if s.cfg.OnResult != nil {
					s.cfg.OnResult(r)
				}
				<-s.slots
				results <- r
			}()
		}
		if len(claims) < limit {
			break
		}
	}
	next, ok, err := s.cfg.Store.NextWebhookWake(ctx)
	if err != nil || !ok {
		return s.cfg.IdleWake
	}
	wait := next.Sub(s.cfg.Now())
	if wait < time.Millisecond {
		// Due but not claimed: another process holds it, or it was
		// written just now. Look again soon, not in a spin.
		wait = 10 * time.Millisecond
	}
	return min(wait, s.cfg.IdleWake)
}

// record writes results to the store in batches: whatever arrived while the
// previous batch was being written goes in the next transaction.
func (s *WebhookSender) record(results <-chan store.WebhookResult) {
	batch := make([]store.WebhookResult, 0, 256)
	for r := range results {
		batch = append(batch[:0], r)
	collect:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-results:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		var err error
		for try := 0; try < 5; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = s.cfg.Store.FinishWebhookAttempts(ctx, s.owner, s.cfg.DisableAfter, batch)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
		}
		if err != nil {
			// The leases expire and the attempts are closed as lost, then
			// retried: nothing is dropped.
			s.cfg.Logger.Error("webhook: recording attempts failed", "attempts", len(batch), "err", err)
		}
		s.Wake() // retries may now be scheduled, and slots are free
	}
}

// attempt sends one claimed attempt and returns its result.
func (s *WebhookSender) attempt(c *store.WebhookClaim) store.WebhookResult {
	e, d := c.Event, c.Delivery
	r := store.WebhookResult{EventID: e.ID, DeliveryID: d.ID}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AttemptTimeout)
	defer cancel()
	start := s.cfg.Now()
	code, body, err := s.post(ctx, e, start)
	r.Now = s.cfg.Now()
	r.Latency = r.Now.Sub(start)
	r.StatusCode, r.ResponseBody = code, body
	switch {
	case err != nil:
		r.Error = describeSendError(err, ctx, s.cfg.AttemptTimeout)
	case code >= 200 && code <= 299:
		r.Success = true
	case code >= 300 && code <= 399:
		r.Error = fmt.Sprintf("HTTP %d: redirects are not followed", code)
	default:
		r.Error = fmt.Sprintf("HTTP %d", code)
	}
	log := s.cfg.Logger.With("event_id", e.ID, "command_id", e.CommandID, "account_id", e.AccountID, "attempt", d.Attempt)
	if r.Success {
		log.Debug("webhook delivered", "status", code, "latency", r.Latency)
		return r
	}
	if delay, ok := s.cfg.Schedule.Delay(d.Attempt+1, s.cfg.Jitter); ok && d.Attempt < e.MaxAttempts {
		r.NextAttemptAt = r.Now.Add(delay)
		log.Info("webhook attempt failed; will retry", "err", r.Error, "retry_in", delay.Round(time.Millisecond))
	} else {
		log.Warn("webhook attempt failed; no attempts left", "err", r.Error)
	}
	return r
}

// post makes the request and returns the status code and the start of the
// body. The body bytes are the event's payload, as stored: signed and sent
// exactly.
func (s *WebhookSender) post(ctx context.Context, e *store.WebhookEvent, now time.Time) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(e.Payload))
	if err != nil {
		return 0, nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(HeaderID, e.ID)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if e.Secret != "" {
		h.Set(HeaderSignature, Signature(e.Secret, e.Payload))
		h.Set(HeaderStandardSignature, StandardSignature(e.Secret, e.ID, now, e.Payload))
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, ResponseBodyLimit))
	if err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	}
	if err != nil && ctx.Err() != nil {
		// The answer did not finish within the timeout: not a success.
		return resp.StatusCode, body, err
	}
	return resp.StatusCode, body, nil
}

// describeSendError turns a client error into a line for the delivery log,
// without the "Post <url>:" prefix (the log has the URL beside it).
func describeSendError(err error, ctx context.Context, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
