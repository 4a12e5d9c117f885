package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func leaseTests() []test {
	return []test{
		{"ClaimQueued", testClaimQueued},
		{"ClaimWhileLeaseLive", testClaimWhileLeaseLive},
		{"ClaimAfterExpiryTakesOver", testClaimAfterExpiry},
		{"ClaimUnknown", testClaimUnknown},
		{"RenewExtends", testRenewExtends},
		{"RenewByAnotherOwner", testRenewByAnotherOwner},
		{"StaleOwnerAfterTakeover", testStaleOwnerAfterTakeover},
		{"Release", testRelease},
		{"ReleaseByAnotherOwner", testReleaseByAnotherOwner},
		{"UnclaimedCommandHasNoLease", testUnclaimedHasNoLease},
	}
}

func testClaimQueued(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	l := lease(workerA, 10, 40)
	want := claimed(c, l, 1, 0)
	checkCommand(t, "ClaimCommand result", mustClaim(t, s, c.ID, l), want)
	checkCommand(t, "GetCommand after the claim", mustGet(t, s, c.ID), want)
}

func testClaimWhileLeaseLive(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 40))
	cases := []struct {
		name string
		l    store.Lease
	}{
		{"another owner, at the claim's instant", lease(workerB, 10, 70)},
		{"another owner, a second before expiry", lease(workerB, 39, 70)},
		{"the owner itself, again", lease(workerA, 20, 70)},
	}
	for _, tc := range cases {
		_, err := s.ClaimCommand(t.Context(), c.ID, tc.l)
		checkErr(t, "ClaimCommand by "+tc.name, err, store.ErrNotClaimable)
	}
	checkUnchanged(t, s, "after the refused claims", held)
}

func testClaimAfterExpiry(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	first := mustClaim(t, s, c.ID, lease(workerA, 10, 40))

	// The lease expired at 40: a claim at exactly 40 takes the command over.
	l := lease(workerB, 40, 70)
	want := claimed(first, l, 2, 1)
	checkCommand(t, "ClaimCommand at the lease's expiry", mustClaim(t, s, c.ID, l), want)
	checkCommand(t, "GetCommand after the takeover", mustGet(t, s, c.ID), want)

	// And well after expiry, again.
	l = lease(workerC, 100, 130)
	want = claimed(want, l, 3, 2)
	checkCommand(t, "ClaimCommand long after the lease's expiry", mustClaim(t, s, c.ID, l), want)
	checkCommand(t, "GetCommand after the second takeover", mustGet(t, s, c.ID), want)
}

func testClaimUnknown(t *testing.T, s store.Store) {
	_, err := s.ClaimCommand(t.Context(), uuid.NewString(), lease(workerA, 10, 40))
	checkErr(t, "ClaimCommand(unknown id)", err, store.ErrNotFound)
}

func testRenewExtends(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 40))

	if err := s.RenewLease(ctx, c.ID, lease(workerA, 30, 70)); err != nil {
		t.Fatalf("RenewLease by the owner: %v", err)
	}
	want := *held
	want.LeaseExpiresAt = at(70)
	// A heartbeat is not a change a client sees: UpdatedAt stays.
	renewed := mustGet(t, s, c.ID)
	checkCommand(t, "GetCommand after RenewLease", renewed, &want)

	// The old expiry no longer frees the command; the new one does.
	for _, sec := range []int{40, 69} {
		_, err := s.ClaimCommand(ctx, c.ID, lease(workerB, sec, sec+30))
		checkErr(t, "ClaimCommand after RenewLease, before the new expiry", err, store.ErrNotClaimable)
	}
	checkUnchanged(t, s, "after the refused claims", renewed)
	mustClaim(t, s, c.ID, lease(workerB, 70, 100))
}

func testRenewByAnotherOwner(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 40))
	err := s.RenewLease(t.Context(), c.ID, lease(workerB, 20, 100))
	checkErr(t, "RenewLease by another owner", err, store.ErrLeaseLost)
	checkUnchanged(t, s, "after RenewLease by another owner", held)
}

// A worker that stalled past its lease, and was taken over, can change
// nothing any more: not the lease, not the status, not the files.
func testStaleOwnerAfterTakeover(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	mustClaim(t, s, c.ID, lease(workerA, 10, 40))
	current := mustClaim(t, s, c.ID, lease(workerB, 50, 80))

	err := s.RenewLease(ctx, c.ID, lease(workerA, 55, 200))
	checkErr(t, "RenewLease by the old owner", err, store.ErrLeaseLost)
	checkUnchanged(t, s, "after RenewLease by the old owner", current)

	f := outputFile(c, 0, at(56))
	for _, o := range []store.Outcome{success(56, f), failure(56)} {
		err = s.FinishCommand(ctx, c.ID, workerA, o)
		checkErr(t, "FinishCommand("+string(o.Status)+") by the old owner", err, store.ErrLeaseLost)
		checkUnchanged(t, s, "after FinishCommand by the old owner", current)
	}
	checkNoFiles(t, s, "after FinishCommand by the old owner", c, f.ID)

	err = s.ReleaseCommand(ctx, c.ID, workerA, at(57))
	checkErr(t, "ReleaseCommand by the old owner", err, store.ErrLeaseLost)
	checkUnchanged(t, s, "after ReleaseCommand by the old owner", current)

	// The new owner's lease is intact: it can still renew and finish.
	if err := s.RenewLease(ctx, c.ID, lease(workerB, 60, 90)); err != nil {
		t.Fatalf("RenewLease by the new owner: %v", err)
	}
	mustFinish(t, s, c.ID, workerB, success(70, f))
	checkFiles(t, "CommandFiles after the new owner finished", mustCommandFiles(t, s, c.ID), f)
}

func testRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 40))

	if err := s.ReleaseCommand(ctx, c.ID, workerA, at(20)); err != nil {
		t.Fatalf("ReleaseCommand by the owner: %v", err)
	}
	want := *held
	want.Status = store.StatusQueued
	want.LeaseOwner = ""
	want.LeaseNode = ""
	want.LeaseExpiresAt = time.Time{}
	want.UpdatedAt = at(20)
	checkCommand(t, "GetCommand after ReleaseCommand", mustGet(t, s, c.ID), &want)

	ids, err := s.ClaimableCommands(ctx, at(20), "", 10)
	if err != nil {
		t.Fatalf("ClaimableCommands: %v", err)
	}
	if !slices.Contains(ids, c.ID) {
		t.Errorf("ClaimableCommands right after ReleaseCommand = %v, want it to list %s", ids, c.ID)
	}
	// Claimable at once, long before the old lease would have expired, and
	// the new claim is not a takeover.
	l := lease(workerB, 20, 50)
	checkCommand(t, "ClaimCommand right after ReleaseCommand", mustClaim(t, s, c.ID, l), claimed(&want, l, 2, 0))
}

func testReleaseByAnotherOwner(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 40))
	err := s.ReleaseCommand(t.Context(), c.ID, workerB, at(20))
	checkErr(t, "ReleaseCommand by another owner", err, store.ErrLeaseLost)
	checkUnchanged(t, s, "after ReleaseCommand by another owner", held)
}

// Nobody holds the lease of a command that was never claimed, not even the
// empty owner, and an unknown command has no lease either.
func testUnclaimedHasNoLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	f := outputFile(c, 0, at(20))
	for _, owner := range []string{workerA, ""} {
		err := s.RenewLease(ctx, c.ID, store.Lease{Owner: owner, Now: at(10), ExpiresAt: at(40)})
		checkErr(t, "RenewLease of a QUEUED command by "+showOwner(owner), err, store.ErrLeaseLost)
		err = s.ReleaseCommand(ctx, c.ID, owner, at(10))
		checkErr(t, "ReleaseCommand of a QUEUED command by "+showOwner(owner), err, store.ErrLeaseLost)
		err = s.FinishCommand(ctx, c.ID, owner, success(20, f))
		checkErr(t, "FinishCommand of a QUEUED command by "+showOwner(owner), err, store.ErrLeaseLost)
		checkUnchanged(t, s, "after lease calls on a QUEUED command", c)
	}
	checkNoFiles(t, s, "after FinishCommand of a QUEUED command", c, f.ID)

	// An unknown id: ErrLeaseLost or ErrNotFound, but never success.
	unknown := uuid.NewString()
	either := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrLeaseLost) && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of an unknown command: err = %v, want %v or %v", what, err, store.ErrLeaseLost, store.ErrNotFound)
		}
	}
	either("RenewLease", s.RenewLease(ctx, unknown, lease(workerA, 10, 40)))
	either("ReleaseCommand", s.ReleaseCommand(ctx, unknown, workerA, at(10)))
	either("FinishCommand", s.FinishCommand(ctx, unknown, workerA, failure(20)))
}

func showOwner(owner string) string {
	if owner == "" {
		return "the empty owner"
	}
	return owner
}
