package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/openrender/openrender/store"
)

func recoveryTests() []test {
	return []test{
		{"ClaimableCommands", testClaimableCommands},
		{"ClaimableCommandsLimit", testClaimableCommandsLimit},
		{"ClaimableCommandsPages", testClaimableCommandsPages},
		{"ExpireLeases", testExpireLeases},
		{"OneNodeTwoClaims", testOneNodeTwoClaims},
	}
}

func mustClaimable(t *testing.T, s store.Store, now, limit int) []string {
	t.Helper()
	ids, err := s.ClaimableCommands(t.Context(), at(now), "", limit)
	if err != nil {
		t.Fatalf("ClaimableCommands(at %d, limit %d): %v", now, limit, err)
	}
	return ids
}

// claimableFixture stores, across two accounts, a command in every state
// ClaimableCommands must judge at second 100, and returns the claimable ones
// oldest first and the others.
func claimableFixture(t *testing.T, s store.Store) (claimable, other []*store.Command) {
	t.Helper()
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	ctx := t.Context()

	// Created out of order, so that insertion order is not creation order.
	expiredLease := create(t, s, a.ID, 3)
	queuedOld := create(t, s, a.ID, 0)
	liveLease := create(t, s, a.ID, 2)
	succeeded := create(t, s, a.ID, 5)
	leaseEndsNow := create(t, s, a.ID, 4)
	failed := create(t, s, a.ID, 6)
	released := create(t, s, b.ID, 7)
	queued := create(t, s, a.ID, 1)
	queuedOtherAccount := create(t, s, b.ID, 8)
	renewed := create(t, s, b.ID, 9)

	mustClaim(t, s, liveLease.ID, lease(workerA, 10, 200))
	mustClaim(t, s, expiredLease.ID, lease(workerA, 10, 50))
	mustClaim(t, s, leaseEndsNow.ID, lease(workerB, 10, 100))
	mustClaim(t, s, succeeded.ID, lease(workerA, 10, 50))
	mustFinish(t, s, succeeded.ID, workerA, success(20, outputFile(succeeded, 0, at(20))))
	mustClaim(t, s, failed.ID, lease(workerA, 10, 50))
	mustFinish(t, s, failed.ID, workerA, failure(20))
	mustClaim(t, s, released.ID, lease(workerA, 10, 200))
	if err := s.ReleaseCommand(ctx, released.ID, workerA, at(20)); err != nil {
		t.Fatalf("ReleaseCommand: %v", err)
	}
	mustClaim(t, s, renewed.ID, lease(workerB, 10, 50))
	if err := s.RenewLease(ctx, renewed.ID, lease(workerB, 40, 150)); err != nil {
		t.Fatalf("RenewLease: %v", err)
	}

	claimable = []*store.Command{queuedOld, queued, expiredLease, leaseEndsNow, released, queuedOtherAccount}
	other = []*store.Command{liveLease, succeeded, failed, renewed}
	return claimable, other
}

func testClaimableCommands(t *testing.T, s store.Store) {
	claimable, other := claimableFixture(t, s)
	checkIDs(t, "ClaimableCommands at 100 (QUEUED and expired leases, oldest first)",
		mustClaimable(t, s, 100, 100), commandIDs(claimable))

	// ClaimCommand agrees with the list.
	for _, c := range other {
		_, err := s.ClaimCommand(t.Context(), c.ID, lease(workerC, 100, 130))
		checkErr(t, "ClaimCommand of a command ClaimableCommands left out", err, store.ErrNotClaimable)
	}
	for _, c := range claimable {
		mustClaim(t, s, c.ID, lease(workerC, 100, 130))
	}
	if ids := mustClaimable(t, s, 100, 100); len(ids) != 0 {
		t.Errorf("ClaimableCommands after claiming them all = %v, want none", ids)
	}
}

func testClaimableCommandsLimit(t *testing.T, s store.Store) {
	claimable, _ := claimableFixture(t, s)
	want := commandIDs(claimable)
	for _, limit := range []int{1, 2, len(want) - 1, len(want), len(want) + 5} {
		checkIDs(t, fmt.Sprintf("ClaimableCommands(at 100, limit %d)", limit), mustClaimable(t, s, 100, limit), want[:min(limit, len(want))])
	}
}

// Paging with the last id of each page visits every claimable command
// once, in order, whatever the page size.
func testClaimableCommandsPages(t *testing.T, s store.Store) {
	claimable, _ := claimableFixture(t, s)
	want := commandIDs(claimable)
	for _, limit := range []int{1, 2, 3} {
		var got []string
		after := ""
		for {
			page, err := s.ClaimableCommands(t.Context(), at(100), after, limit)
			if err != nil {
				t.Fatalf("ClaimableCommands(after %q, limit %d): %v", after, limit, err)
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1]
		}
		checkIDs(t, fmt.Sprintf("ClaimableCommands paged by %d", limit), got, want)
	}
}

func testExpireLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	mine1 := create(t, s, a.ID, 0)
	mine2 := create(t, s, a.ID, 1)
	theirs := create(t, s, a.ID, 2)
	lost := create(t, s, a.ID, 3)
	done := create(t, s, a.ID, 4)
	queued := create(t, s, a.ID, 5)

	mustClaim(t, s, mine1.ID, lease(workerA, 10, 1000))
	mustClaim(t, s, mine2.ID, lease(workerA, 10, 1000))
	mustClaim(t, s, theirs.ID, lease(workerB, 10, 1000))
	mustClaim(t, s, lost.ID, lease(workerA, 10, 40))
	mustClaim(t, s, lost.ID, lease(workerC, 50, 1000)) // workerA lost it
	mustClaim(t, s, done.ID, lease(workerA, 10, 1000))
	mustFinish(t, s, done.ID, workerA, failure(20))
	untouched := []*store.Command{mustGet(t, s, theirs.ID), mustGet(t, s, lost.ID), mustGet(t, s, done.ID), mustGet(t, s, queued.ID)}

	if n, err := s.ExpireLeases(ctx, "worker-unknown", at(60)); err != nil || n != 0 {
		t.Errorf("ExpireLeases of an owner holding nothing = %d, %v; want 0", n, err)
	}
	n, err := s.ExpireLeases(ctx, nodeOf(workerA), at(60))
	if err != nil {
		t.Fatalf("ExpireLeases: %v", err)
	}
	if n != 2 {
		t.Errorf("ExpireLeases(%s) = %d, want 2 (the leases it still held)", workerA, n)
	}
	for _, c := range untouched {
		checkUnchanged(t, s, "after ExpireLeases of another owner", c)
	}

	// workerA's commands are claimable at once; nothing else changed.
	checkIDs(t, "ClaimableCommands right after ExpireLeases", mustClaimable(t, s, 60, 100), commandIDs([]*store.Command{mine1, mine2, queued}))
	for _, c := range []*store.Command{mine1, mine2} {
		got := mustClaim(t, s, c.ID, lease(workerC, 60, 90))
		if got.LeaseOwner != workerC || got.Attempts != 2 || got.Status != store.StatusProcessing {
			t.Errorf("ClaimCommand after ExpireLeases: owner %q, attempts %d, status %s; want %q, 2, %s",
				got.LeaseOwner, got.Attempts, got.Status, workerC, store.StatusProcessing)
		}
	}
	_, err = s.ClaimCommand(ctx, theirs.ID, lease(workerC, 60, 90))
	checkErr(t, "ClaimCommand of another owner's live lease after ExpireLeases", err, store.ErrNotClaimable)
	if slices.Contains(mustClaimable(t, s, 60, 100), lost.ID) {
		t.Errorf("ClaimableCommands lists the command workerA had lost to workerC")
	}
}

// Two claims made by one engine process are still two owners: the first,
// after its lease expired and the same node claimed the command again, can
// neither renew, release nor finish the second. ExpireLeases of the node
// ends every claim it holds.
func testOneNodeTwoClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	other := create(t, s, a.ID, 1)
	first := store.Lease{Owner: "node-1/claim-1", Node: "node-1", Now: at(10), ExpiresAt: at(40)}
	second := store.Lease{Owner: "node-1/claim-2", Node: "node-1", Now: at(50), ExpiresAt: at(90)}
	mustClaim(t, s, c.ID, first)
	held := mustClaim(t, s, c.ID, second)
	if held.LostLeases != 1 || held.LeaseOwner != second.Owner || held.LeaseNode != "node-1" {
		t.Fatalf("second claim: owner %q node %q lost %d", held.LeaseOwner, held.LeaseNode, held.LostLeases)
	}
	checkErr(t, "RenewLease by the first claim", s.RenewLease(ctx, c.ID, store.Lease{Owner: first.Owner, Node: "node-1", Now: at(60), ExpiresAt: at(100)}), store.ErrLeaseLost)
	checkErr(t, "ReleaseCommand by the first claim", s.ReleaseCommand(ctx, c.ID, first.Owner, at(60)), store.ErrLeaseLost)
	checkErr(t, "FinishCommand by the first claim", s.FinishCommand(ctx, c.ID, first.Owner, failure(60)), store.ErrLeaseLost)
	checkUnchanged(t, s, "after the first claim's attempts", held)

	mustClaim(t, s, other.ID, store.Lease{Owner: "node-1/claim-3", Node: "node-1", Now: at(60), ExpiresAt: at(1000)})
	n, err := s.ExpireLeases(ctx, "node-1", at(70))
	if err != nil || n != 2 {
		t.Fatalf("ExpireLeases(node-1) = %d, %v; want both of its claims", n, err)
	}
	checkIDs(t, "ClaimableCommands after ExpireLeases(node-1)", mustClaimable(t, s, 70, 10), []string{c.ID, other.ID})
}
