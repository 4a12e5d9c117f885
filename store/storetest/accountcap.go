package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openrender/openrender/store"
)

func accountCapTests() []test {
	return []test{
		{"ClaimRespectsAccountCap", testClaimRespectsAccountCap},
		{"AccountCapRace", testAccountCapRace},
	}
}

// capped is a lease with a per-account cap.
func capped(owner string, now, expires, max int) store.Lease {
	l := lease(owner, now, expires)
	l.MaxRunningPerAccount = max
	return l
}

func testClaimRespectsAccountCap(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "other")
	c1, c2, c3 := create(t, s, a.ID, 0), create(t, s, a.ID, 1), create(t, s, a.ID, 2)
	other := create(t, s, b.ID, 3)

	mustClaim(t, s, c1.ID, capped(workerA, 10, 40, 2))
	mustClaim(t, s, c2.ID, capped(workerB, 10, 40, 2))
	_, err := s.ClaimCommand(t.Context(), c3.ID, capped(workerC, 11, 41, 2))
	checkErr(t, "ClaimCommand over the account's cap", err, store.ErrAccountBusy)
	if got := mustGet(t, s, c3.ID); got.Status != store.StatusQueued || got.Attempts != 0 {
		t.Errorf("refused command: status %s, attempts %d; want QUEUED, 0", got.Status, got.Attempts)
	}
	// Another account is not held back; no cap means no cap.
	mustClaim(t, s, other.ID, capped(workerC, 11, 41, 2))
	_, err = s.ClaimCommand(t.Context(), c3.ID, lease(workerC, 11, 41))
	if err != nil {
		t.Fatalf("ClaimCommand without a cap: %v", err)
	}
	mustFinish(t, s, c3.ID, workerC, success(12))

	// A finished command frees its place.
	mustFinish(t, s, c1.ID, workerA, success(20))
	c4 := create(t, s, a.ID, 21)
	mustClaim(t, s, c4.ID, capped(workerA, 22, 60, 2))
	c5 := create(t, s, a.ID, 23)
	_, err = s.ClaimCommand(t.Context(), c5.ID, capped(workerA, 24, 60, 2))
	checkErr(t, "ClaimCommand over the cap again", err, store.ErrAccountBusy)
	// An expired lease does not count: its worker is presumed dead.
	mustClaim(t, s, c5.ID, capped(workerA, 41, 80, 2))
	// A finished command is still not claimable, cap or not.
	_, err = s.ClaimCommand(t.Context(), c1.ID, capped(workerA, 42, 80, 5))
	checkErr(t, "ClaimCommand of a finished command", err, store.ErrNotClaimable)
}

// testAccountCapRace has many workers claim one account's commands at once
// with a cap of 1: exactly one claim may win.
func testAccountCapRace(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	var cs []*store.Command
	for i := range raceCommands / 5 {
		cs = append(cs, create(t, s, a.ID, i))
	}
	var (
		wins  atomic.Int32
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for w := range raceWorkers {
		owner := fmt.Sprintf("racer-%d", w)
		wg.Go(func() {
			<-start
			for i := range cs {
				c := cs[(i+w)%len(cs)]
				_, err := s.ClaimCommand(t.Context(), c.ID, capped(owner, 100, 700, 1))
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, store.ErrAccountBusy) && !errors.Is(err, store.ErrNotClaimable):
					t.Errorf("%s: ClaimCommand(%s): %v", owner, c.ID, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d claims won under a cap of 1, want exactly 1", n)
	}
}
