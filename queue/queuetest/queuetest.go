// Package queuetest is the conformance suite every queue.Queue passes.
//
// A driver's own test calls Run with a function that returns a fresh, empty
// queue:
//
//	func TestConformance(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) queue.Queue { return queue.NewMemory() })
//	}
//
// The suite asks only what the engine relies on: every pushed id reaches a
// Pop at least once, in push order on a single consumer when the driver
// promises FIFO (Options.FIFO), a blocked Pop wakes on Push, Pop honours its
// context, and Close wakes everything.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/queue"
)

// Options describe what a driver promises beyond the basics.
type Options struct {
	// FIFO: a single consumer sees ids in push order.
	FIFO bool
	// Wait bounds how long the suite waits for a delivery; default 5s.
	Wait time.Duration
}

// Run runs the suite. open must return a fresh queue each call; the suite
// closes it.
func Run(t *testing.T, open func(t *testing.T) queue.Queue, opts Options) {
	if opts.Wait == 0 {
		opts.Wait = 5 * time.Second
	}
	fresh := func(t *testing.T) queue.Queue {
		q := open(t)
		t.Cleanup(func() { q.Close() })
		return q
	}
	ctxFor := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Wait)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("PushThenPop", func(t *testing.T) {
		q, ctx := fresh(t), ctxFor(t)
		ids := []string{"a", "b", "c"}
		for _, id := range ids {
			if err := q.Push(ctx, id); err != nil {
				t.Fatalf("Push(%s): %v", id, err)
			}
		}
		got := popN(t, ctx, q, len(ids))
		if opts.FIFO {
			for i := range ids {
				if got[i] != ids[i] {
					t.Fatalf("order: got %v, want %v", got, ids)
				}
			}
		}
		assertSameSet(t, got, ids)
	})

	t.Run("BlockedPopWakesOnPush", func(t *testing.T) {
		q, ctx := fresh(t), ctxFor(t)
		got := make(chan string, 1)
		go func() {
			id, err := q.Pop(ctx)
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- id
		}()
		time.Sleep(20 * time.Millisecond) // let Pop block first
		start := time.Now()
		if err := q.Push(ctx, "late"); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-got:
			if id != "late" {
				t.Fatalf("Pop = %q, want late", id)
			}
			t.Logf("wake-up latency %v", time.Since(start))
		case <-ctx.Done():
			t.Fatal("blocked Pop did not wake on Push")
		}
	})

	t.Run("PopHonoursContext", func(t *testing.T) {
		q := fresh(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := q.Pop(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Pop on empty queue with expiring ctx = %v, want DeadlineExceeded", err)
		}
		// A cancelled Pop must not swallow a later id.
		ctx2 := ctxFor(t)
		if err := q.Push(ctx2, "after-cancel"); err != nil {
			t.Fatal(err)
		}
		if id, err := q.Pop(ctx2); err != nil || id != "after-cancel" {
			t.Fatalf("Pop after a cancelled Pop = %q, %v", id, err)
		}
	})

	t.Run("ManyProducersManyConsumers", func(t *testing.T) {
		q, ctx := fresh(t), ctxFor(t)
		const producers, each, consumers = 4, 250, 4
		var want []string
		for p := 0; p < producers; p++ {
			for i := 0; i < each; i++ {
				want = append(want, fmt.Sprintf("p%d-%d", p, i))
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		cctx, stop := context.WithCancel(ctx)
		defer stop()
		for c := 0; c < consumers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					id, err := q.Pop(cctx)
					if err != nil {
						return
					}
					mu.Lock()
					seen[id]++
					mu.Unlock()
				}
			}()
		}
		var pw sync.WaitGroup
		for p := 0; p < producers; p++ {
			pw.Add(1)
			go func(p int) {
				defer pw.Done()
				for i := 0; i < each; i++ {
					if err := q.Push(ctx, fmt.Sprintf("p%d-%d", p, i)); err != nil {
						t.Errorf("Push: %v", err)
						return
					}
				}
			}(p)
		}
		pw.Wait()
		deadline := time.Now().Add(opts.Wait)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n == len(want) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		wg.Wait()
		for _, id := range want {
			if seen[id] == 0 {
				t.Fatalf("id %s was pushed but never popped (%d of %d seen)", id, len(seen), len(want))
			}
		}
	})

	t.Run("CloseWakesPop", func(t *testing.T) {
		q, ctx := fresh(t), ctxFor(t)
		errc := make(chan error, 1)
		go func() {
			_, err := q.Pop(ctx)
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, queue.ErrClosed) {
				t.Fatalf("Pop after Close = %v, want ErrClosed", err)
			}
		case <-ctx.Done():
			t.Fatal("Close did not wake a blocked Pop")
		}
		if err := q.Push(ctx, "x"); !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("Push after Close = %v, want ErrClosed", err)
		}
	})
}

func popN(t *testing.T, ctx context.Context, q queue.Queue, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		id, err := q.Pop(ctx)
		if err != nil {
			t.Fatalf("Pop after %d of %d: %v", len(got), n, err)
		}
		got = append(got, id)
	}
	return got
}

func assertSameSet(t *testing.T, got, want []string) {
	t.Helper()
	m := map[string]bool{}
	for _, g := range got {
		m[g] = true
	}
	for _, w := range want {
		if !m[w] {
			t.Fatalf("got %v, missing %s", got, w)
		}
	}
}
