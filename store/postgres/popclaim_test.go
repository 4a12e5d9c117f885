package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/postgres"
)

func leaseFor(owner string, limit int) func() store.Lease {
	return func() store.Lease {
		now := time.Now()
		return store.Lease{Owner: owner, Node: "n1", Now: now, ExpiresAt: now.Add(time.Minute), MaxRunningPerAccount: limit}
	}
}

// PopClaim claims the oldest queued command in one step, skips ids whose
// command is not claimable, and hands back, with ErrAccountBusy, an id
// whose account is at the cap (the command stays QUEUED, out of the queue).
func TestPopClaim(t *testing.T) {
	for _, limit := range []int{0, 1} {
		t.Run(fmt.Sprint("cap=", limit), func(t *testing.T) {
			s := open(t)
			q := openQueue(t, s, postgres.QueueOptions{PollInterval: time.Hour})
			a, err := s.EnsureAccount(t.Context(), "acct", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var cmds []*store.Command
			for range 3 {
				c := newCommand(a.ID)
				if err := s.CreateCommand(t.Context(), c); err != nil {
					t.Fatal(err)
				}
				cmds = append(cmds, c)
				time.Sleep(time.Millisecond) // distinct creation times: FIFO
			}
			// The first is claimed behind the queue's back: its row is a
			// stale hint now, and the account has a running command.
			now := time.Now()
			if _, err := s.ClaimCommand(t.Context(), cmds[0].ID, store.Lease{Owner: "other", Node: "n0", Now: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			got, err := q.PopClaim(t.Context(), leaseFor("me", limit))
			if limit == 1 {
				if !errors.Is(err, store.ErrAccountBusy) || got.ID != cmds[1].ID || got.Command != nil {
					t.Fatalf("PopClaim at the cap = %+v, %v; want %s and ErrAccountBusy", got, err, cmds[1].ID)
				}
				if c, _ := s.GetCommand(t.Context(), cmds[1].ID); c.Status != store.StatusQueued {
					t.Fatalf("a command refused for its account is %s, want QUEUED", c.Status)
				}
				// The running command finishes: the next claim fits.
				if err := s.FinishCommand(t.Context(), cmds[0].ID, "other", store.Outcome{Status: store.StatusSuccess, FinishedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
				cmds = cmds[1:] // cmds[1] is out of the queue: the next is cmds[2]
			}
			if limit == 0 && err != nil {
				t.Fatal(err)
			}
			if limit == 1 {
				if got, err = q.PopClaim(t.Context(), leaseFor("me", limit)); err != nil {
					t.Fatal(err)
				}
			}
			want := cmds[1]
			if got.ID != want.ID || got.Command == nil || got.Command.ID != want.ID || got.Command.Status != store.StatusProcessing ||
				got.Command.LeaseOwner != "me" || got.Lease.Owner != "me" || got.Command.Attempts != 1 {
				t.Fatalf("PopClaim = %+v (command %+v), want %s PROCESSING owned by me", got, got.Command, want.ID)
			}
			stored, err := s.GetCommand(t.Context(), want.ID)
			if err != nil || stored.LeaseOwner != "me" || stored.Status != store.StatusProcessing {
				t.Fatalf("stored command %+v, %v", stored, err)
			}
			if limit == 0 {
				if got, err = q.PopClaim(t.Context(), leaseFor("me", 0)); err != nil || got.ID != cmds[2].ID {
					t.Fatalf("second PopClaim = %+v, %v; want %s", got, err, cmds[2].ID)
				}
			}
			// Empty: PopClaim waits.
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if got, err := q.PopClaim(ctx, leaseFor("me", limit)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("PopClaim on an empty queue = %+v, %v", got, err)
			}
		})
	}
}

// A waiting PopClaim is woken by the NOTIFY of a command recorded through
// another store (another process), not by its poll.
func TestPopClaimWokenByNotify(t *testing.T) {
	s := open(t)
	q := openQueue(t, s, postgres.QueueOptions{PollInterval: time.Hour})
	a, err := s.EnsureAccount(t.Context(), "acct", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan queue.Claimed, 1)
	go func() {
		c, err := q.PopClaim(t.Context(), leaseFor("me", 2))
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	time.Sleep(50 * time.Millisecond)
	c := newCommand(a.ID)
	if err := s.CreateCommand(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g.Command == nil || g.Command.ID != c.ID {
			t.Fatalf("PopClaim = %+v, want %s claimed", g, c.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting PopClaim was not woken")
	}
}

// Workers racing with PopClaim never run more than the cap of one
// account's commands, and each command is claimed at most once.
func TestPopClaimAccountCapRace(t *testing.T) {
	s := open(t)
	q := openQueue(t, s, postgres.QueueOptions{PollInterval: 50 * time.Millisecond})
	const limit, perAccount = 2, 10
	var ids []string
	for i := range 3 {
		a, err := s.EnsureAccount(t.Context(), fmt.Sprint("acct-", i), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for range perAccount {
			c := newCommand(a.ID)
			if err := s.CreateCommand(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
	}
	var mu sync.Mutex
	claimed, busy := map[string]int{}, 0
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				got, err := q.PopClaim(ctx, leaseFor(fmt.Sprint("w", w), limit))
				cancel()
				mu.Lock()
				switch {
				case errors.Is(err, store.ErrAccountBusy):
					busy++
				case err == nil:
					claimed[got.ID]++
				}
				mu.Unlock()
				if err != nil && !errors.Is(err, store.ErrAccountBusy) {
					return // drained
				}
			}
		}()
	}
	wg.Wait()
	if len(claimed) != 3*limit || busy != len(ids)-3*limit {
		t.Fatalf("claimed %d commands (%d refused as busy), want %d claimed and %d busy", len(claimed), busy, 3*limit, len(ids)-3*limit)
	}
	running := map[string]int{}
	for _, id := range ids {
		c, err := s.GetCommand(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == store.StatusProcessing {
			running[c.AccountID]++
			if claimed[id] != 1 {
				t.Fatalf("command %s is PROCESSING but was claimed %d times", id, claimed[id])
			}
		}
	}
	for acct, n := range running {
		if n != limit {
			t.Fatalf("account %s runs %d commands, cap %d", acct, n, limit)
		}
	}
}
