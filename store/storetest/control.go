package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

// controlTests cover store.CommandControl: progress and cancellation.
func controlTests() []test {
	return []test{
		{"ProgressByOwnerOnly", testProgressByOwnerOnly},
		{"ClaimClearsProgress", testClaimClearsProgress},
		{"RequestCancelOnlyWhileProcessing", testRequestCancelOnlyWhileProcessing},
		{"CancelRequestSurvivesTakeover", testCancelRequestSurvivesTakeover},
		{"CancelQueued", testCancelQueued},
		{"CancelQueuedLosesToClaim", testCancelQueuedLosesToClaim},
		{"CountUnfinished", testCountUnfinished},
	}
}

// idempotencyTests cover store.Idempotency.
func idempotencyTests() []test {
	return []test{
		{"ReserveCompleteReplay", testIdempotencyReserveCompleteReplay},
		{"ScopedPerAccount", testIdempotencyScopedPerAccount},
		{"DeadReservationTakenOver", testIdempotencyDeadReservation},
		{"ExpiredRecordReplaced", testIdempotencyExpired},
		{"Release", testIdempotencyRelease},
		{"ConcurrentReserveOneWinner", testIdempotencyConcurrent},
		{"DeleteBefore", testIdempotencyDeleteBefore},
	}
}

func testProgressByOwnerOnly(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)

	err := s.SetProgress(ctx, c.ID, workerA, store.Progress{Percent: 5, At: at(1)})
	checkErr(t, "SetProgress on a QUEUED command", err, store.ErrLeaseLost)

	held := mustClaim(t, s, c.ID, lease(workerA, 10, 100))
	if held.Progress != nil {
		t.Errorf("a fresh claim has Progress %+v, want nil", held.Progress)
	}
	eta := 42.5
	if err := s.SetProgress(ctx, c.ID, workerA, store.Progress{Percent: 37.5, ETASeconds: &eta, At: at(12)}); err != nil {
		t.Fatalf("SetProgress by the owner: %v", err)
	}
	got := mustGet(t, s, c.ID)
	if got.Progress == nil || got.Progress.Percent != 37.5 || got.Progress.ETASeconds == nil || *got.Progress.ETASeconds != 42.5 ||
		!got.Progress.At.Equal(at(12)) {
		t.Errorf("Progress read back = %+v, want 37.5%% eta 42.5 at %s", got.Progress, showTime(at(12)))
	}
	if !got.UpdatedAt.Equal(held.UpdatedAt) {
		t.Errorf("SetProgress changed UpdatedAt from %s to %s; progress is not a change of state",
			showTime(held.UpdatedAt), showTime(got.UpdatedAt))
	}
	// No ETA: stored as none.
	if err := s.SetProgress(ctx, c.ID, workerA, store.Progress{Percent: 40, At: at(13)}); err != nil {
		t.Fatalf("SetProgress without ETA: %v", err)
	}
	if got := mustGet(t, s, c.ID); got.Progress == nil || got.Progress.ETASeconds != nil || got.Progress.Percent != 40 {
		t.Errorf("Progress without ETA read back = %+v", got.Progress)
	}

	err = s.SetProgress(ctx, c.ID, workerB, store.Progress{Percent: 90, At: at(14)})
	checkErr(t, "SetProgress by another owner", err, store.ErrLeaseLost)
	mustFinish(t, s, c.ID, workerA, failure(20))
	err = s.SetProgress(ctx, c.ID, workerA, store.Progress{Percent: 99, At: at(21)})
	checkErr(t, "SetProgress after FinishCommand", err, store.ErrLeaseLost)
	err = s.SetProgress(ctx, uuid.NewString(), workerA, store.Progress{Percent: 1, At: at(21)})
	checkErr(t, "SetProgress of an unknown command", err, store.ErrLeaseLost)
}

func testClaimClearsProgress(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	mustClaim(t, s, c.ID, lease(workerA, 10, 20))
	if err := s.SetProgress(ctx, c.ID, workerA, store.Progress{Percent: 60, At: at(15)}); err != nil {
		t.Fatal(err)
	}
	// workerA's lease expires; workerB takes over and starts from nothing.
	taken := mustClaim(t, s, c.ID, lease(workerB, 30, 60))
	if taken.Progress != nil {
		t.Errorf("ClaimCommand after a takeover returned Progress %+v, want nil", taken.Progress)
	}
	if got := mustGet(t, s, c.ID); got.Progress != nil {
		t.Errorf("GetCommand after a takeover has Progress %+v, want nil", got.Progress)
	}
}

func testRequestCancelOnlyWhileProcessing(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)

	checkErr(t, "RequestCancel of a QUEUED command", s.RequestCancel(ctx, c.ID, at(1)), store.ErrConflict)
	checkErr(t, "RequestCancel of an unknown command", s.RequestCancel(ctx, uuid.NewString(), at(1)), store.ErrNotFound)

	l := lease(workerA, 10, 100)
	mustClaim(t, s, c.ID, l)
	if ids, err := s.CancelRequestedCommands(ctx, l.Node); err != nil || len(ids) != 0 {
		t.Errorf("CancelRequestedCommands before any request = %v, %v; want none", ids, err)
	}
	if err := s.RequestCancel(ctx, c.ID, at(12)); err != nil {
		t.Fatalf("RequestCancel of a PROCESSING command: %v", err)
	}
	if err := s.RequestCancel(ctx, c.ID, at(13)); err != nil {
		t.Fatalf("second RequestCancel: %v", err)
	}
	got := mustGet(t, s, c.ID)
	if !got.CancelRequestedAt.Equal(at(12)) {
		t.Errorf("CancelRequestedAt = %s, want the first request's %s", showTime(got.CancelRequestedAt), showTime(at(12)))
	}
	if got.Status != store.StatusProcessing || got.LeaseOwner != workerA {
		t.Errorf("RequestCancel changed the command: status %s owner %q", got.Status, got.LeaseOwner)
	}
	ids, err := s.CancelRequestedCommands(ctx, l.Node)
	if err != nil || !slices.Equal(ids, []string{c.ID}) {
		t.Errorf("CancelRequestedCommands(%s) = %v, %v; want [%s]", l.Node, ids, err, c.ID)
	}
	if ids, err := s.CancelRequestedCommands(ctx, nodeOf(workerB)); err != nil || len(ids) != 0 {
		t.Errorf("CancelRequestedCommands of another node = %v, %v; want none", ids, err)
	}
	mustFinish(t, s, c.ID, workerA, failure(20))
	checkErr(t, "RequestCancel of a finished command", s.RequestCancel(ctx, c.ID, at(21)), store.ErrConflict)
	if ids, err := s.CancelRequestedCommands(ctx, l.Node); err != nil || len(ids) != 0 {
		t.Errorf("CancelRequestedCommands after the finish = %v, %v; want none", ids, err)
	}
}

// A worker that takes over a command (its first worker died) learns from
// the claim that a cancel was requested.
func testCancelRequestSurvivesTakeover(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	mustClaim(t, s, c.ID, lease(workerA, 10, 20))
	if err := s.RequestCancel(ctx, c.ID, at(15)); err != nil {
		t.Fatal(err)
	}
	taken := mustClaim(t, s, c.ID, lease(workerB, 30, 60))
	if !taken.CancelRequestedAt.Equal(at(15)) {
		t.Errorf("ClaimCommand after takeover: CancelRequestedAt = %s, want %s", showTime(taken.CancelRequestedAt), showTime(at(15)))
	}
	// A graceful release keeps the request too.
	if err := s.ReleaseCommand(ctx, c.ID, workerB, at(31)); err != nil {
		t.Fatal(err)
	}
	again := mustClaim(t, s, c.ID, lease(workerC, 40, 70))
	if !again.CancelRequestedAt.Equal(at(15)) {
		t.Errorf("ClaimCommand after release: CancelRequestedAt = %s, want %s", showTime(again.CancelRequestedAt), showTime(at(15)))
	}
}

func cancelled(sec int, e *store.WebhookEvent) store.Outcome {
	return store.Outcome{
		Status: store.StatusFailed, ErrorStatus: "CANCELLED", ErrorMessage: "cancelled by request",
		FinishedAt: at(sec), Event: e,
	}
}

func testCancelQueued(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	e := perCommandEvent()
	e.ID, e.AccountID, e.CommandID, e.CreatedAt, e.NextAttemptAt, e.MaxAttempts = uuid.NewString(), a.ID, c.ID, at(5), at(5), 3
	e.Payload = []byte(`{"data":{"command_id":"` + c.ID + `","status":"FAILED"},"timestamp":5000}`)
	e.State = store.EventPending
	if err := s.CancelQueuedCommand(ctx, c.ID, cancelled(5, e)); err != nil {
		t.Fatalf("CancelQueuedCommand: %v", err)
	}
	got := mustGet(t, s, c.ID)
	if got.Status != store.StatusFailed || got.ErrorStatus != "CANCELLED" || !got.FinishedAt.Equal(at(5)) {
		t.Errorf("after CancelQueuedCommand: status %s error_status %q finished %s", got.Status, got.ErrorStatus, showTime(got.FinishedAt))
	}
	if got.CancelRequestedAt.IsZero() {
		t.Errorf("after CancelQueuedCommand: CancelRequestedAt is zero")
	}
	if ev := mustEvent(t, s, e.ID); !bytes.Equal(ev.Payload, e.Payload) || ev.CommandID != c.ID {
		t.Errorf("the event was not stored with the cancel: %+v", ev)
	}
	_, err := s.ClaimCommand(ctx, c.ID, lease(workerA, 10, 100))
	checkErr(t, "ClaimCommand of a cancelled command", err, store.ErrNotClaimable)
	checkErr(t, "second CancelQueuedCommand", s.CancelQueuedCommand(ctx, c.ID, cancelled(6, nil)), store.ErrConflict)
	checkErr(t, "CancelQueuedCommand of an unknown command", s.CancelQueuedCommand(ctx, uuid.NewString(), cancelled(6, nil)), store.ErrNotFound)
	if ids, err := s.ClaimableCommands(ctx, at(200), "", 10); err != nil || len(ids) != 0 {
		t.Errorf("ClaimableCommands after the cancel = %v, %v; want none", ids, err)
	}
}

func testCancelQueuedLosesToClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 100))
	e := perCommandEvent()
	e.ID, e.AccountID, e.CommandID, e.CreatedAt, e.NextAttemptAt, e.MaxAttempts = uuid.NewString(), a.ID, c.ID, at(11), at(11), 3
	e.Payload, e.State = []byte(`{}`), store.EventPending
	checkErr(t, "CancelQueuedCommand of a PROCESSING command", s.CancelQueuedCommand(ctx, c.ID, cancelled(11, e)), store.ErrConflict)
	checkUnchanged(t, s, "after a refused CancelQueuedCommand", held)
	_, err := s.GetWebhookEvent(ctx, e.ID)
	checkErr(t, "the event of a refused cancel", err, store.ErrNotFound)
}

func testCountUnfinished(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	q, p, err := s.CountUnfinishedCommands(ctx)
	if err != nil || q != 0 || p != 0 {
		t.Fatalf("CountUnfinishedCommands on an empty store = %d, %d, %v", q, p, err)
	}
	create(t, s, a.ID, 0)
	create(t, s, a.ID, 1)
	c := create(t, s, a.ID, 2)
	mustClaim(t, s, c.ID, lease(workerA, 10, 100))
	finishedCommand(t, s, a.ID, store.StatusSuccess)
	q, p, err = s.CountUnfinishedCommands(ctx)
	if err != nil || q != 2 || p != 1 {
		t.Errorf("CountUnfinishedCommands = %d queued, %d processing, %v; want 2, 1", q, p, err)
	}
}

func reservation(accountID, key, owner string, sec int) *store.IdempotencyRecord {
	return &store.IdempotencyRecord{AccountID: accountID, Key: key, Owner: owner, CreatedAt: at(sec), LockedUntil: at(sec + 60)}
}

// longAgo is an expiredBefore that expires nothing the suite writes.
var longAgo = base.Add(-time.Hour)

func mustReserve(t *testing.T, s store.Store, r *store.IdempotencyRecord, expiredBefore time.Time) *store.IdempotencyRecord {
	t.Helper()
	got, err := s.ReserveIdempotencyKey(t.Context(), r, expiredBefore)
	if err != nil {
		t.Fatalf("ReserveIdempotencyKey(%s, owner %s): %v", r.Key, r.Owner, err)
	}
	return got
}

func testIdempotencyReserveCompleteReplay(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	if held := mustReserve(t, s, reservation(a.ID, "k1", "req-1", 0), longAgo); held != nil {
		t.Fatalf("first reserve: held by %+v, want the reservation", held)
	}
	held := mustReserve(t, s, reservation(a.ID, "k1", "req-2", 1), longAgo)
	if held == nil || held.Owner != "req-1" || held.Completed {
		t.Fatalf("second reserve while the first runs = %+v, want req-1's pending record", held)
	}
	done := reservation(a.ID, "k1", "req-2", 2)
	done.RequestHash, done.StatusCode, done.ContentType, done.Body = []byte{1, 2, 3}, 200, "application/json", []byte(`{"command_id":"x"}`)
	checkErr(t, "CompleteIdempotencyKey by a request that does not hold the key", s.CompleteIdempotencyKey(ctx, done), store.ErrLeaseLost)
	done.Owner = "req-1"
	if err := s.CompleteIdempotencyKey(ctx, done); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	checkErr(t, "second CompleteIdempotencyKey", s.CompleteIdempotencyKey(ctx, done), store.ErrLeaseLost)

	held = mustReserve(t, s, reservation(a.ID, "k1", "req-3", 100), longAgo)
	if held == nil || !held.Completed || held.StatusCode != 200 || held.ContentType != "application/json" ||
		!bytes.Equal(held.Body, done.Body) || !bytes.Equal(held.RequestHash, done.RequestHash) || held.Owner != "req-1" {
		t.Fatalf("reserve after completion = %+v, want the completed answer", held)
	}
	got, err := s.GetIdempotencyKey(ctx, a.ID, "k1")
	if err != nil || !got.Completed || !got.CreatedAt.Equal(at(0)) {
		t.Errorf("GetIdempotencyKey = %+v, %v", got, err)
	}
	_, err = s.GetIdempotencyKey(ctx, a.ID, "nope")
	checkErr(t, "GetIdempotencyKey of an unknown key", err, store.ErrNotFound)
}

func testIdempotencyScopedPerAccount(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	mustReserve(t, s, reservation(a.ID, "shared", "req-a", 0), longAgo)
	if held := mustReserve(t, s, reservation(b.ID, "shared", "req-b", 0), longAgo); held != nil {
		t.Errorf("another account's reserve of the same key is held by %+v; keys are per account", held)
	}
}

func testIdempotencyDeadReservation(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	mustReserve(t, s, reservation(a.ID, "k", "dead", 0), longAgo) // locked until 60
	if held := mustReserve(t, s, reservation(a.ID, "k", "alive", 59), longAgo); held == nil || held.Owner != "dead" {
		t.Errorf("reserve before the lock ends = %+v, want the dead request's record", held)
	}
	if held := mustReserve(t, s, reservation(a.ID, "k", "alive", 60), longAgo); held != nil {
		t.Errorf("reserve once the lock ended = %+v, want the key taken over", held)
	}
	err := s.CompleteIdempotencyKey(t.Context(), &store.IdempotencyRecord{AccountID: a.ID, Key: "k", Owner: "dead", StatusCode: 200})
	checkErr(t, "CompleteIdempotencyKey by the request that lost the key", err, store.ErrLeaseLost)
}

func testIdempotencyExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	mustReserve(t, s, reservation(a.ID, "k", "old", 0), longAgo)
	if err := s.CompleteIdempotencyKey(ctx, &store.IdempotencyRecord{AccountID: a.ID, Key: "k", Owner: "old", StatusCode: 200, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// Records created at or before expiredBefore no longer count.
	if held := mustReserve(t, s, reservation(a.ID, "k", "new", 100), at(0)); held != nil {
		t.Fatalf("reserve of an expired key = %+v, want the reservation", held)
	}
	got, err := s.GetIdempotencyKey(ctx, a.ID, "k")
	if err != nil || got.Completed || got.Owner != "new" || len(got.Body) != 0 {
		t.Errorf("the record after reserving an expired key = %+v, %v; want new's pending record", got, err)
	}
}

func testIdempotencyRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	mustReserve(t, s, reservation(a.ID, "k", "first", 0), longAgo)
	if err := s.ReleaseIdempotencyKey(ctx, a.ID, "k", "someone-else"); err != nil {
		t.Fatal(err)
	}
	if held := mustReserve(t, s, reservation(a.ID, "k", "second", 1), longAgo); held == nil {
		t.Fatal("a release by another request freed the key")
	}
	if err := s.ReleaseIdempotencyKey(ctx, a.ID, "k", "first"); err != nil {
		t.Fatal(err)
	}
	if held := mustReserve(t, s, reservation(a.ID, "k", "second", 2), longAgo); held != nil {
		t.Errorf("reserve after release = %+v, want the reservation", held)
	}
}

func testIdempotencyConcurrent(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := "req-" + string(rune('a'+i))
			held, err := s.ReserveIdempotencyKey(t.Context(), reservation(a.ID, "race", owner, 0), longAgo)
			if err != nil {
				t.Errorf("ReserveIdempotencyKey(%s): %v", owner, err)
				return
			}
			if held == nil {
				mu.Lock()
				winners = append(winners, owner)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Errorf("%d concurrent reserves of one key: winners %v, want exactly one", n, winners)
	}
}

func testIdempotencyDeleteBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	for i, k := range []string{"a", "b", "c"} {
		mustReserve(t, s, reservation(a.ID, k, "r", i*10), longAgo)
	}
	n, err := s.DeleteIdempotencyKeysBefore(ctx, at(15), 100)
	if err != nil || n != 2 {
		t.Fatalf("DeleteIdempotencyKeysBefore(15) = %d, %v; want 2", n, err)
	}
	if _, err := s.GetIdempotencyKey(ctx, a.ID, "a"); err == nil {
		t.Error("key a is still there")
	}
	if _, err := s.GetIdempotencyKey(ctx, a.ID, "c"); err != nil {
		t.Errorf("key c: %v", err)
	}
}
