package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func webhookTests() []test {
	return []test{
		{"ConfigPutGetDelete", testWebhookConfigPutGetDelete},
		{"EventIsWrittenWithTheOutcome", testEventWrittenWithOutcome},
		{"NoEventWhenTheFinishLosesItsLease", testNoEventWhenFinishLosesLease},
		{"NotDeliveredEventGetsAttemptZero", testNotDeliveredEvent},
		{"ClaimOpensOneAttempt", testClaimOpensOneAttempt},
		{"NothingIsClaimedBeforeItIsDue", testNothingClaimedBeforeDue},
		{"FailureSchedulesTheNextAttempt", testFailureSchedulesNext},
		{"LastFailureEndsFailed", testLastFailureEndsFailed},
		{"LostSenderClosesItsAttempt", testLostSender},
		{"ResultOfALostClaimIsIgnored", testResultOfLostClaimIgnored},
		{"ConsecutiveFailuresDisableTheAccountWebhook", testFailuresDisable},
		{"SuccessResetsTheFailureCount", testSuccessResetsFailures},
		{"AccountEventsFollowTheConfig", testAccountEventsFollowConfig},
		{"DeleteAbandonsPendingEvents", testDeleteAbandonsPending},
		{"Redeliver", testRedeliver},
		{"DeliveriesPageNewestFirst", testDeliveriesPage},
		{"ConcurrentClaimsNeverShareAnAttempt", testConcurrentWebhookClaims},
	}
}

// ---- fixtures ----

const disableAfter = 3

// finishWithEvent runs a new command of the account to SUCCESS with e as its
// event (ID, AccountID, CommandID and times filled in) at second sec.
func finishWithEvent(t *testing.T, s store.Store, accountID string, sec int, e *store.WebhookEvent) *store.WebhookEvent {
	t.Helper()
	c := create(t, s, accountID, sec)
	mustClaim(t, s, c.ID, lease(workerA, sec, sec+30))
	e.ID = uuid.NewString()
	e.AccountID = accountID
	e.CommandID = c.ID
	e.CreatedAt = at(sec)
	if e.NextAttemptAt.IsZero() {
		e.NextAttemptAt = at(sec)
	}
	if e.MaxAttempts == 0 {
		e.MaxAttempts = 3
	}
	if e.Payload == nil {
		e.Payload = []byte(`{"data":{"command_id":"` + c.ID + `"},"timestamp":1}`)
	}
	if err := s.FinishCommand(t.Context(), c.ID, workerA, store.Outcome{
		Status: store.StatusSuccess, FinishedAt: at(sec), Event: e,
	}); err != nil {
		t.Fatalf("FinishCommand with an event: %v", err)
	}
	return e
}

func perCommandEvent() *store.WebhookEvent {
	return &store.WebhookEvent{URL: "https://hooks.example.com/cmd", Secret: "s3cret"}
}

func mustPutConfig(t *testing.T, s store.Store, accountID, url string, sec int) {
	t.Helper()
	if err := s.PutWebhookConfig(t.Context(), &store.WebhookConfig{
		AccountID: accountID, URL: url, Secret: "acct-secret", CreatedAt: at(sec), UpdatedAt: at(sec),
	}); err != nil {
		t.Fatalf("PutWebhookConfig: %v", err)
	}
}

func mustConfig(t *testing.T, s store.Store, accountID string) *store.WebhookConfig {
	t.Helper()
	c, err := s.GetWebhookConfig(t.Context(), accountID)
	if err != nil {
		t.Fatalf("GetWebhookConfig: %v", err)
	}
	return c
}

func claimAt(t *testing.T, s store.Store, owner string, sec, leaseSec int) []*store.WebhookClaim {
	t.Helper()
	cl, err := s.ClaimWebhookAttempts(t.Context(), owner, at(sec), at(sec+leaseSec), 100)
	if err != nil {
		t.Fatalf("ClaimWebhookAttempts(%s at %d): %v", owner, sec, err)
	}
	return cl
}

func mustEvent(t *testing.T, s store.Store, id string) *store.WebhookEvent {
	t.Helper()
	e, err := s.GetWebhookEvent(t.Context(), id)
	if err != nil {
		t.Fatalf("GetWebhookEvent(%s): %v", id, err)
	}
	return e
}

func deliveries(t *testing.T, s store.Store, accountID, commandID string) []*store.WebhookDelivery {
	t.Helper()
	ds, err := s.ListWebhookDeliveries(t.Context(), store.DeliveryQuery{AccountID: accountID, CommandID: commandID, Limit: 100})
	if err != nil {
		t.Fatalf("ListWebhookDeliveries: %v", err)
	}
	return ds
}

func failResult(c *store.WebhookClaim, sec, retrySec int) store.WebhookResult {
	r := store.WebhookResult{
		EventID: c.Event.ID, DeliveryID: c.Delivery.ID, StatusCode: 500, Error: "HTTP 500",
		ResponseBody: []byte("boom"), Latency: 3 * time.Millisecond, Now: at(sec),
	}
	if retrySec >= 0 {
		r.NextAttemptAt = at(retrySec)
	}
	return r
}

func okResult(c *store.WebhookClaim, sec int) store.WebhookResult {
	return store.WebhookResult{EventID: c.Event.ID, DeliveryID: c.Delivery.ID, Success: true,
		StatusCode: 200, ResponseBody: []byte("ok"), Latency: time.Millisecond, Now: at(sec)}
}

func mustFinishAttempts(t *testing.T, s store.Store, owner string, rs ...store.WebhookResult) {
	t.Helper()
	if err := s.FinishWebhookAttempts(t.Context(), owner, disableAfter, rs); err != nil {
		t.Fatalf("FinishWebhookAttempts: %v", err)
	}
}

// ---- tests ----

func testWebhookConfigPutGetDelete(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	if _, err := s.GetWebhookConfig(t.Context(), a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetWebhookConfig before any PUT: err %v, want ErrNotFound", err)
	}
	mustPutConfig(t, s, a.ID, "https://hooks.example.com/a", 1)
	c := mustConfig(t, s, a.ID)
	if c.URL != "https://hooks.example.com/a" || c.Secret != "acct-secret" || !c.IsActive ||
		c.ConsecutiveFailures != 0 || !c.DisabledAt.IsZero() || !sameTime(c.CreatedAt, at(1)) {
		t.Fatalf("config read back as %+v", c)
	}
	mustPutConfig(t, s, a.ID, "https://hooks.example.com/b", 2)
	c = mustConfig(t, s, a.ID)
	if c.URL != "https://hooks.example.com/b" || !sameTime(c.CreatedAt, at(1)) || !sameTime(c.UpdatedAt, at(2)) {
		t.Fatalf("after a second PUT: %+v, want the new URL, the first created_at and the new updated_at", c)
	}
	other := mustAccount(t, s, "other")
	if _, err := s.GetWebhookConfig(t.Context(), other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account sees a config: %v", err)
	}
	if err := s.DeleteWebhookConfig(t.Context(), a.ID, at(3)); err != nil {
		t.Fatalf("DeleteWebhookConfig: %v", err)
	}
	if err := s.DeleteWebhookConfig(t.Context(), a.ID, at(3)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteWebhookConfig: err %v, want ErrNotFound", err)
	}
}

func testEventWrittenWithOutcome(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 10, perCommandEvent())
	got := mustEvent(t, s, e.ID)
	if got.State != store.EventPending || got.Attempts != 0 || got.MaxAttempts != 3 ||
		string(got.Payload) != string(e.Payload) || got.URL != e.URL || got.Secret != "s3cret" ||
		got.ToAccountWebhook || !sameTime(got.NextAttemptAt, at(10)) || got.CommandID != e.CommandID {
		t.Fatalf("event read back as %+v", got)
	}
	if c := mustGet(t, s, e.CommandID); c.Status != store.StatusSuccess {
		t.Fatalf("command is %s", c.Status)
	}
	at, ok, err := s.NextWebhookWake(t.Context())
	if err != nil || !ok || !sameTime(at, e.NextAttemptAt) {
		t.Fatalf("NextWebhookWake = %v, %v, %v; want the event's due time", at, ok, err)
	}
}

func testNoEventWhenFinishLosesLease(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 1)
	mustClaim(t, s, c.ID, lease(workerA, 1, 31))
	e := perCommandEvent()
	e.ID, e.AccountID, e.CommandID, e.MaxAttempts, e.Payload = uuid.NewString(), a.ID, c.ID, 3, []byte("{}")
	err := s.FinishCommand(t.Context(), c.ID, workerB, store.Outcome{Status: store.StatusSuccess, FinishedAt: at(2), Event: e})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("FinishCommand by a non-owner: %v", err)
	}
	if _, err := s.GetWebhookEvent(t.Context(), e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the event of a refused finish exists: %v", err)
	}
	if _, ok, _ := s.NextWebhookWake(t.Context()); ok {
		t.Fatal("NextWebhookWake reports a pending event")
	}
}

func testNotDeliveredEvent(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 1, &store.WebhookEvent{
		URL: "https://hooks.example.com/a", ToAccountWebhook: true,
		State: store.EventNotDelivered, LastError: "webhook disabled",
	})
	if got := mustEvent(t, s, e.ID); got.State != store.EventNotDelivered {
		t.Fatalf("state %s", got.State)
	}
	ds := deliveries(t, s, a.ID, e.CommandID)
	if len(ds) != 1 || ds[0].Attempt != 0 || ds[0].Error != "webhook disabled" || !ds[0].Finished || ds[0].Success {
		t.Fatalf("delivery log %+v, want one attempt-0 record with the reason", ds)
	}
	if cl := claimAt(t, s, workerA, 100, 10); len(cl) != 0 {
		t.Fatalf("claimed a NOT_DELIVERED event: %+v", cl[0].Event)
	}
}

func testClaimOpensOneAttempt(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 1, perCommandEvent())
	cl := claimAt(t, s, workerA, 2, 10)
	if len(cl) != 1 {
		t.Fatalf("claimed %d events, want 1", len(cl))
	}
	c := cl[0]
	if c.Event.ID != e.ID || c.Event.Attempts != 1 || c.Event.URL != e.URL || c.Event.Secret != "s3cret" ||
		string(c.Event.Payload) != string(e.Payload) {
		t.Fatalf("claimed event %+v", c.Event)
	}
	if c.Delivery.ID == "" || c.Delivery.Attempt != 1 || c.Delivery.Finished || c.Delivery.URL != e.URL ||
		c.Delivery.CommandID != e.CommandID || !sameTime(c.Delivery.AttemptAt, at(2)) {
		t.Fatalf("delivery record %+v", c.Delivery)
	}
	if again := claimAt(t, s, workerB, 3, 10); len(again) != 0 {
		t.Fatal("an event with an attempt in flight was claimed again")
	}
	wake, ok, _ := s.NextWebhookWake(t.Context())
	if !ok || !sameTime(wake, at(12)) {
		t.Fatalf("NextWebhookWake = %v %v, want the lease expiry", wake, ok)
	}
	mustFinishAttempts(t, s, workerA, okResult(c, 3))
	got := mustEvent(t, s, e.ID)
	if got.State != store.EventDelivered || got.LeaseOwner != "" {
		t.Fatalf("after success: %+v", got)
	}
	d, err := s.GetWebhookDelivery(t.Context(), c.Delivery.ID)
	if err != nil || !d.Finished || !d.Success || d.StatusCode != 200 || string(d.ResponseBody) != "ok" || d.Latency != time.Millisecond {
		t.Fatalf("recorded attempt %+v, %v", d, err)
	}
	if _, ok, _ := s.NextWebhookWake(t.Context()); ok {
		t.Fatal("a delivered event still wakes senders")
	}
}

func testNothingClaimedBeforeDue(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := perCommandEvent()
	e.NextAttemptAt = at(50)
	finishWithEvent(t, s, a.ID, 1, e)
	if cl := claimAt(t, s, workerA, 49, 10); len(cl) != 0 {
		t.Fatal("claimed an event before its due time")
	}
	if cl := claimAt(t, s, workerA, 50, 10); len(cl) != 1 {
		t.Fatal("did not claim an event at its due time")
	}
}

func testFailureSchedulesNext(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 1, perCommandEvent())
	c := claimAt(t, s, workerA, 1, 10)[0]
	mustFinishAttempts(t, s, workerA, failResult(c, 2, 7))
	got := mustEvent(t, s, e.ID)
	if got.State != store.EventPending || !sameTime(got.NextAttemptAt, at(7)) || got.LeaseOwner != "" || got.LastError != "HTTP 500" {
		t.Fatalf("after a failure: %+v", got)
	}
	if cl := claimAt(t, s, workerA, 6, 10); len(cl) != 0 {
		t.Fatal("retry claimed early")
	}
	c2 := claimAt(t, s, workerB, 7, 10)
	if len(c2) != 1 || c2[0].Delivery.Attempt != 2 {
		t.Fatalf("retry claim %+v", c2)
	}
	ds := deliveries(t, s, a.ID, e.CommandID)
	if len(ds) != 2 || ds[0].Attempt != 2 || ds[1].Attempt != 1 || ds[1].StatusCode != 500 ||
		string(ds[1].ResponseBody) != "boom" || ds[1].Error != "HTTP 500" || ds[0].Finished {
		t.Fatalf("delivery log %+v", ds)
	}
}

func testLastFailureEndsFailed(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 1, perCommandEvent()) // 3 attempts
	for i := 0; i < 3; i++ {
		cl := claimAt(t, s, workerA, 10*(i+1), 5)
		if len(cl) != 1 {
			t.Fatalf("attempt %d not claimed", i+1)
		}
		mustFinishAttempts(t, s, workerA, failResult(cl[0], 10*(i+1)+1, 10*(i+2)))
	}
	if got := mustEvent(t, s, e.ID); got.State != store.EventFailed || got.Attempts != 3 {
		t.Fatalf("after the last attempt failed: %+v", got)
	}
	if cl := claimAt(t, s, workerA, 1000, 5); len(cl) != 0 {
		t.Fatal("claimed a FAILED event")
	}
}

func testLostSender(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 1, perCommandEvent())
	first := claimAt(t, s, workerA, 1, 10)[0]
	if cl := claimAt(t, s, workerB, 10, 10); len(cl) != 0 {
		t.Fatal("claimed while the lease is live")
	}
	cl := claimAt(t, s, workerB, 11, 10)
	if len(cl) != 1 || cl[0].Delivery.Attempt != 2 {
		t.Fatalf("after the lease expired: %+v, want attempt 2", cl)
	}
	d, _ := s.GetWebhookDelivery(t.Context(), first.Delivery.ID)
	if !d.Finished || d.Success || d.Error == "" {
		t.Fatalf("the lost attempt's record: %+v, want closed as failed with a reason", d)
	}
	mustFinishAttempts(t, s, workerB, okResult(cl[0], 12))
	if got := mustEvent(t, s, e.ID); got.State != store.EventDelivered {
		t.Fatalf("state %s", got.State)
	}
}

func testResultOfLostClaimIgnored(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 1, perCommandEvent())
	stale := claimAt(t, s, workerA, 1, 10)[0]
	fresh := claimAt(t, s, workerB, 11, 10)[0]
	mustFinishAttempts(t, s, workerA, okResult(stale, 12)) // too late: skipped
	got := mustEvent(t, s, e.ID)
	if got.State != store.EventPending || got.LeaseOwner != workerB {
		t.Fatalf("a stale result changed the event: %+v", got)
	}
	mustFinishAttempts(t, s, workerB, failResult(fresh, 13, 20))
	if got := mustEvent(t, s, e.ID); got.State != store.EventPending || !sameTime(got.NextAttemptAt, at(20)) {
		t.Fatalf("after the owner's result: %+v", got)
	}
}

func testFailuresDisable(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	mustPutConfig(t, s, a.ID, "https://hooks.example.com/a", 0)
	acct := func() *store.WebhookEvent {
		return &store.WebhookEvent{URL: "https://hooks.example.com/a", ToAccountWebhook: true, MaxAttempts: 10}
	}
	e1 := finishWithEvent(t, s, a.ID, 1, acct())
	waiting := acct()
	waiting.NextAttemptAt = at(500)
	e2 := finishWithEvent(t, s, a.ID, 2, waiting)
	perCmd := perCommandEvent()
	perCmd.NextAttemptAt = at(500)
	e3 := finishWithEvent(t, s, a.ID, 3, perCmd)
	for i := 0; i < disableAfter; i++ {
		sec := 10 * (i + 1)
		cl := claimAt(t, s, workerA, sec, 5)
		if len(cl) != 1 || cl[0].Event.ID != e1.ID {
			t.Fatalf("attempt %d: claimed %d events", i+1, len(cl))
		}
		if cfg := mustConfig(t, s, a.ID); cfg.ConsecutiveFailures != i || !cfg.IsActive {
			t.Fatalf("before failure %d: %+v", i+1, cfg)
		}
		mustFinishAttempts(t, s, workerA, failResult(cl[0], sec+1, sec+10))
	}
	cfg := mustConfig(t, s, a.ID)
	if cfg.IsActive || cfg.ConsecutiveFailures != disableAfter || !sameTime(cfg.DisabledAt, at(31)) {
		t.Fatalf("after %d failures: %+v, want disabled at second 31", disableAfter, cfg)
	}
	for _, id := range []string{e1.ID, e2.ID} {
		if got := mustEvent(t, s, id); got.State != store.EventNotDelivered {
			t.Fatalf("account event %s is %s, want NOT_DELIVERED", id, got.State)
		}
	}
	if got := mustEvent(t, s, e3.ID); got.State != store.EventPending {
		t.Fatalf("a per-command event was abandoned with the account webhook: %s", got.State)
	}
	ds := deliveries(t, s, a.ID, e2.CommandID)
	if len(ds) != 1 || ds[0].Attempt != 0 || ds[0].Error == "" {
		t.Fatalf("the abandoned event's log: %+v", ds)
	}
	// PUT re-enables and resets.
	mustPutConfig(t, s, a.ID, "https://hooks.example.com/a", 40)
	cfg = mustConfig(t, s, a.ID)
	if !cfg.IsActive || cfg.ConsecutiveFailures != 0 || !cfg.DisabledAt.IsZero() {
		t.Fatalf("after PUT: %+v", cfg)
	}
}

func testSuccessResetsFailures(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	mustPutConfig(t, s, a.ID, "https://hooks.example.com/a", 0)
	e := finishWithEvent(t, s, a.ID, 1, &store.WebhookEvent{URL: "https://hooks.example.com/a", ToAccountWebhook: true, MaxAttempts: 10})
	for i := 0; i < disableAfter-1; i++ {
		cl := claimAt(t, s, workerA, 10*(i+1), 5)
		mustFinishAttempts(t, s, workerA, failResult(cl[0], 10*(i+1)+1, 10*(i+2)))
	}
	if cfg := mustConfig(t, s, a.ID); cfg.ConsecutiveFailures != disableAfter-1 {
		t.Fatalf("failures %d", cfg.ConsecutiveFailures)
	}
	cl := claimAt(t, s, workerA, 100, 5)
	mustFinishAttempts(t, s, workerA, okResult(cl[0], 101))
	if cfg := mustConfig(t, s, a.ID); cfg.ConsecutiveFailures != 0 || !cfg.IsActive {
		t.Fatalf("after a success: %+v", cfg)
	}
	if got := mustEvent(t, s, e.ID); got.State != store.EventDelivered {
		t.Fatalf("state %s", got.State)
	}
}

func testAccountEventsFollowConfig(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	mustPutConfig(t, s, a.ID, "https://hooks.example.com/old", 0)
	finishWithEvent(t, s, a.ID, 1, &store.WebhookEvent{URL: "https://hooks.example.com/old", ToAccountWebhook: true})
	if err := s.PutWebhookConfig(t.Context(), &store.WebhookConfig{
		AccountID: a.ID, URL: "https://hooks.example.com/new", Secret: "rotated", CreatedAt: at(2), UpdatedAt: at(2),
	}); err != nil {
		t.Fatal(err)
	}
	cl := claimAt(t, s, workerA, 3, 5)
	if len(cl) != 1 || cl[0].Event.URL != "https://hooks.example.com/new" || cl[0].Event.Secret != "rotated" ||
		cl[0].Delivery.URL != "https://hooks.example.com/new" {
		t.Fatalf("claim %+v, want the account's current URL and secret", cl)
	}
}

func testDeleteAbandonsPending(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	mustPutConfig(t, s, a.ID, "https://hooks.example.com/a", 0)
	e := &store.WebhookEvent{URL: "https://hooks.example.com/a", ToAccountWebhook: true}
	e.NextAttemptAt = at(100)
	finishWithEvent(t, s, a.ID, 1, e)
	if err := s.DeleteWebhookConfig(t.Context(), a.ID, at(5)); err != nil {
		t.Fatal(err)
	}
	if got := mustEvent(t, s, e.ID); got.State != store.EventNotDelivered {
		t.Fatalf("state after DELETE: %s", got.State)
	}
	if cl := claimAt(t, s, workerA, 200, 5); len(cl) != 0 {
		t.Fatal("claimed an event of a deleted webhook")
	}
}

func testRedeliver(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	e := finishWithEvent(t, s, a.ID, 1, perCommandEvent())
	if err := s.RedeliverWebhookEvent(t.Context(), "missing", at(1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("redeliver of a missing event: %v", err)
	}
	c := claimAt(t, s, workerA, 1, 10)[0]
	if err := s.RedeliverWebhookEvent(t.Context(), e.ID, at(2)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("redeliver with an attempt in flight: %v, want ErrConflict", err)
	}
	mustFinishAttempts(t, s, workerA, okResult(c, 2))
	if err := s.RedeliverWebhookEvent(t.Context(), e.ID, at(50)); err != nil {
		t.Fatalf("redeliver: %v", err)
	}
	got := mustEvent(t, s, e.ID)
	if got.State != store.EventPending || got.MaxAttempts != 2 || !sameTime(got.NextAttemptAt, at(50)) {
		t.Fatalf("after redeliver: %+v", got)
	}
	cl := claimAt(t, s, workerB, 50, 10)
	if len(cl) != 1 || cl[0].Delivery.Attempt != 2 || string(cl[0].Event.Payload) != string(e.Payload) {
		t.Fatalf("redelivery claim %+v, want attempt 2 with the same payload", cl)
	}
	mustFinishAttempts(t, s, workerB, failResult(cl[0], 51, 60))
	if got := mustEvent(t, s, e.ID); got.State != store.EventFailed {
		t.Fatalf("a failed redelivery is retried: %s, want FAILED (one attempt only)", got.State)
	}
}

func testDeliveriesPage(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "other")
	e1 := finishWithEvent(t, s, a.ID, 1, perCommandEvent())
	e2 := finishWithEvent(t, s, a.ID, 2, perCommandEvent())
	finishWithEvent(t, s, b.ID, 3, perCommandEvent())
	for sec := 10; sec < 13; sec++ {
		for _, c := range claimAt(t, s, workerA, sec, 0) {
			mustFinishAttempts(t, s, workerA, failResult(c, sec, sec+1))
		}
	}
	all := deliveries(t, s, a.ID, "")
	if len(all) != 6 {
		t.Fatalf("account a has %d delivery records, want 6", len(all))
	}
	for _, d := range all {
		if d.AccountID != a.ID {
			t.Fatalf("record of another account: %+v", d)
		}
	}
	if all[0].Attempt != 3 || all[len(all)-1].Attempt != 1 {
		t.Fatalf("not newest first: attempts %d … %d", all[0].Attempt, all[len(all)-1].Attempt)
	}
	one := deliveries(t, s, a.ID, e1.CommandID)
	if len(one) != 3 || one[0].CommandID != e1.CommandID {
		t.Fatalf("by command: %d records", len(one))
	}
	page, err := s.ListWebhookDeliveries(t.Context(), store.DeliveryQuery{AccountID: a.ID, Limit: 2, Offset: 4})
	if err != nil || len(page) != 2 || page[0].ID != all[4].ID || page[1].ID != all[5].ID {
		t.Fatalf("page at offset 4: %d records, %v", len(page), err)
	}
	_ = e2
}

func testConcurrentWebhookClaims(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	const n = 40
	for i := 0; i < n; i++ {
		finishWithEvent(t, s, a.ID, 1, perCommandEvent())
	}
	var (
		mu   sync.Mutex
		seen = map[string]string{}
		wg   sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		owner := []string{workerA, workerB, workerC, "worker-d"}[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cl, err := s.ClaimWebhookAttempts(t.Context(), owner, at(5), at(100), 3)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(cl) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cl {
					if prev, dup := seen[c.Event.ID]; dup {
						t.Errorf("event %s claimed by %s and %s", c.Event.ID, prev, owner)
					}
					seen[c.Event.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d events claimed, want %d", len(seen), n)
	}
}
