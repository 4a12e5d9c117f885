package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/openrender/openrender/store"
)

func concurrencyTests() []test {
	return []test{
		{"ClaimRace", testClaimRace},
		{"TakeoverRace", testTakeoverRace},
	}
}

const (
	raceWorkers  = 8
	raceCommands = 50
)

// raceClaims has raceWorkers goroutines, released together, each try to
// claim every command (each starting at a different one) with a lease taken
// at second now, and returns who won each command. Any error other than
// ErrNotClaimable is reported.
func raceClaims(t *testing.T, s store.Store, cs []*store.Command, now int) map[string][]string {
	t.Helper()
	var (
		mu      sync.Mutex
		winners = map[string][]string{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for w := range raceWorkers {
		owner := fmt.Sprintf("racer-%d", w)
		wg.Go(func() {
			<-start
			for i := range cs {
				c := cs[(i+w*len(cs)/raceWorkers)%len(cs)]
				got, err := s.ClaimCommand(t.Context(), c.ID, lease(owner, now, now+600))
				switch {
				case err == nil:
					if got == nil || got.LeaseOwner != owner {
						t.Errorf("%s: ClaimCommand(%s) succeeded but returned %+v", owner, c.ID, got)
					}
					mu.Lock()
					winners[c.ID] = append(winners[c.ID], owner)
					mu.Unlock()
				case !errors.Is(err, store.ErrNotClaimable):
					t.Errorf("%s: ClaimCommand(%s): err = %v, want nil or %v", owner, c.ID, err, store.ErrNotClaimable)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return winners
}

// checkClaimedOnce reports a command not claimed exactly once, and one whose
// stored lease is not its winner's.
func checkClaimedOnce(t *testing.T, s store.Store, cs []*store.Command, winners map[string][]string, attempts, lostLeases int) {
	t.Helper()
	for _, c := range cs {
		w := winners[c.ID]
		if len(w) != 1 {
			t.Errorf("command %s was claimed %d times (by %v), want exactly once", c.ID, len(w), w)
			continue
		}
		got := mustGet(t, s, c.ID)
		if got.Status != store.StatusProcessing || got.LeaseOwner != w[0] || got.Attempts != attempts || got.LostLeases != lostLeases {
			t.Errorf("command %s after the race: status %s, owner %q, attempts %d, lost leases %d; want %s, %q, %d, %d",
				c.ID, got.Status, got.LeaseOwner, got.Attempts, got.LostLeases, store.StatusProcessing, w[0], attempts, lostLeases)
		}
	}
}

func raceFixture(t *testing.T, s store.Store) []*store.Command {
	t.Helper()
	a := mustAccount(t, s, "acme")
	cs := make([]*store.Command, raceCommands)
	for i := range cs {
		cs[i] = create(t, s, a.ID, i)
	}
	return cs
}

// Workers racing for the same QUEUED commands: each is claimed exactly once.
func testClaimRace(t *testing.T, s store.Store) {
	cs := raceFixture(t, s)
	winners := raceClaims(t, s, cs, 100)
	checkClaimedOnce(t, s, cs, winners, 1, 0)
}

// Workers racing to take over the same expired leases: each is taken over
// exactly once.
func testTakeoverRace(t *testing.T, s store.Store) {
	cs := raceFixture(t, s)
	for _, c := range cs {
		mustClaim(t, s, c.ID, lease(workerA, 60, 90))
	}
	winners := raceClaims(t, s, cs, 100)
	checkClaimedOnce(t, s, cs, winners, 2, 1)
}
