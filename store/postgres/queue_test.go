package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/internal/pgtest"
	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/queue/queuetest"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/postgres"
)

func openQueue(t testing.TB, s *postgres.Store, opts postgres.QueueOptions) *postgres.Queue {
	q := s.Queue(opts)
	t.Cleanup(func() { q.Close() })
	return q
}

func TestQueueConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queue.Queue {
		return openQueue(t, open(t), postgres.QueueOptions{})
	}, queuetest.Options{FIFO: true})
}

// popSoon starts a Pop on q and gives it a moment to wait; the channel
// gets the id it pops, or "error: …".
func popSoon(t *testing.T, q *postgres.Queue) <-chan string {
	popped := make(chan string, 1)
	go func() {
		id, err := q.Pop(t.Context())
		if err != nil {
			id = "error: " + err.Error()
		}
		popped <- id
	}()
	time.Sleep(50 * time.Millisecond) // let Pop wait
	return popped
}

func newCommand(accountID string) *store.Command {
	now := time.Now()
	return &store.Command{
		ID: uuid.NewString(), AccountID: accountID, Type: store.TypeFFmpegCommand, Status: store.StatusQueued,
		Request: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now,
	}
}

// Recording a command queues it, in the same statement: a second
// process's Pop gets it without anyone calling Push, and a command whose
// insert fails is not queued.
func TestCreateCommandQueuesIt(t *testing.T) {
	u, _ := pgtest.Schema(t, "")
	api := openAt(t, u)
	worker := openAt(t, u)
	openQueue(t, api, postgres.QueueOptions{})
	wq := openQueue(t, worker, postgres.QueueOptions{PollInterval: time.Hour}) // woken by NOTIFY only
	a, err := api.EnsureAccount(t.Context(), "acct", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	popped := popSoon(t, wq)
	c := newCommand(a.ID)
	if err := api.CreateCommand(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-popped:
		if id != c.ID {
			t.Fatalf("Pop = %q, want %s", id, c.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a recorded command never reached a waiting Pop on another store (no NOTIFY?)")
	}
	// A duplicate id fails and queues nothing.
	if err := api.CreateCommand(t.Context(), c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate CreateCommand = %v, want ErrConflict", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if id, err := wq.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after a failed CreateCommand, Pop = %q, %v; want nothing queued", id, err)
	}
}

// A batch (CreateCommands) is queued by the statement that records it: a
// second process's Pop, woken by NOTIFY only, gets every command of the
// batch in the order they were created; a refused batch queues nothing.
func TestCreateCommandsQueuesThem(t *testing.T) {
	u, _ := pgtest.Schema(t, "")
	api := openAt(t, u)
	worker := openAt(t, u)
	openQueue(t, api, postgres.QueueOptions{})
	wq := openQueue(t, worker, postgres.QueueOptions{PollInterval: time.Hour}) // woken by NOTIFY only
	a, err := api.EnsureAccount(t.Context(), "acct", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	popped := popSoon(t, wq)
	batch := []*store.Command{newCommand(a.ID), newCommand(a.ID), newCommand(a.ID)}
	for i, c := range batch {
		c.CreatedAt = c.CreatedAt.Add(time.Duration(i) * time.Millisecond)
		c.Type = store.TypeMultipleCommand
	}
	if err := api.CreateCommands(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-popped:
		if id != batch[0].ID {
			t.Fatalf("first Pop = %q, want the batch's first command %s", id, batch[0].ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a recorded batch never reached a waiting Pop on another store (no NOTIFY?)")
	}
	for _, c := range batch[1:] {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		id, err := wq.Pop(ctx)
		cancel()
		if err != nil || id != c.ID {
			t.Fatalf("Pop = %q, %v; want %s", id, err, c.ID)
		}
	}
	// A batch with one existing id fails whole and queues nothing.
	refused := []*store.Command{newCommand(a.ID), batch[1]}
	if err := api.CreateCommands(t.Context(), refused); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateCommands with an existing id = %v, want ErrConflict", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if id, err := wq.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after a refused CreateCommands, Pop = %q, %v; want nothing queued", id, err)
	}
}

// Cancelling a QUEUED command takes its queue row away in the same
// transaction, so no worker is handed a command it may not claim.
func TestCancelQueuedCommandUnqueuesIt(t *testing.T) {
	s := open(t)
	q := openQueue(t, s, postgres.QueueOptions{})
	a, err := s.EnsureAccount(t.Context(), "acct", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cancelled, kept := newCommand(a.ID), newCommand(a.ID)
	kept.CreatedAt = cancelled.CreatedAt.Add(time.Millisecond)
	if err := s.CreateCommands(t.Context(), []*store.Command{cancelled, kept}); err != nil {
		t.Fatal(err)
	}
	if err := s.CancelQueuedCommand(t.Context(), cancelled.ID, store.Outcome{
		Status: store.StatusFailed, ErrorStatus: "CANCELLED", FinishedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if id, err := q.Pop(ctx); err != nil || id != kept.ID {
		t.Fatalf("Pop after cancelling the first command = %q, %v; want the second, %s", id, err, kept.ID)
	}
}

// A lost notification only delays: with no listener wake-up at all (a row
// inserted behind the queue's back, no NOTIFY), a waiting Pop finds it at
// its next poll.
func TestQueuePollsWhenNoNotificationComes(t *testing.T) {
	s := open(t)
	q := openQueue(t, s, postgres.QueueOptions{PollInterval: 200 * time.Millisecond})
	got := make(chan string, 1)
	go func() {
		id, _ := q.Pop(t.Context())
		got <- id
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := s.Pool().Exec(t.Context(), `INSERT INTO queue_jobs (id, queued_at) VALUES ('silent', 1)`); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "silent" {
			t.Fatalf("Pop = %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a row queued without a notification was never popped")
	}
}

// The listening connection killed by the server: the queue reconnects and
// wakes on the next notification.
func TestQueueListenerReconnects(t *testing.T) {
	app := "ortest-listen-" + uuid.NewString()[:8]
	u, _ := pgtest.Schema(t, app)
	s := openAt(t, u)
	q := openQueue(t, s, postgres.QueueOptions{PollInterval: time.Hour})
	waitListening(t, s, app)
	pgtest.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app)
	time.Sleep(100 * time.Millisecond)
	waitListening(t, s, app)
	got := make(chan string, 1)
	go func() {
		id, _ := q.Pop(t.Context())
		got <- id
	}()
	time.Sleep(50 * time.Millisecond)
	if err := q.Push(t.Context(), "after-reconnect"); err != nil {
		// The pool may hand out a connection the kill broke: retry once.
		if err := q.Push(t.Context(), "after-reconnect"); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case id := <-got:
		if id != "after-reconnect" {
			t.Fatalf("Pop = %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after the listening connection was killed")
	}
}

func waitListening(t *testing.T, s *postgres.Store, app string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&n)
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue is not listening (%d listeners, %v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkQueueClaims measures commands taken from the Postgres queue and
// claimed in the store per second, with no-op work, by W workers sharing
// one store (pool of W connections), as the engine's workers do:
//
//   - claim: Pop then ClaimCommand, no per-account cap (two round trips);
//   - popclaim: PopClaim, no cap (one statement);
//   - popclaim+cap: PopClaim with the engine's default cap (8), which is
//     the engine's path by default: pop and account lock, then the claim,
//     as one batch (commands spread over one account per 8 commands, so
//     no account reaches the cap);
//   - claim+finish, popclaim+finish: the whole life of a command that does
//     nothing, with the engine's default cap (8, commands spread over 16
//     accounts; PopClaim then pops, locks the account and claims in one
//     batch): claimed, then FinishCommand.
//
// W is 8 unless OPENRENDER_BENCH_WORKERS says otherwise.
func BenchmarkQueueClaims(b *testing.B) {
	workers := 8
	if w, err := strconv.Atoi(os.Getenv("OPENRENDER_BENCH_WORKERS")); err == nil && w > 0 {
		workers = w
	}
	for _, m := range []claimMode{
		{name: "claim"},
		{name: "popclaim", popClaim: true},
		{name: "popclaim+cap", popClaim: true, capped: true},
		{name: "claim+finish", capped: true, finish: true},
		{name: "popclaim+finish", popClaim: true, capped: true, finish: true},
	} {
		b.Run(m.name, func(b *testing.B) { benchClaims(b, m, workers) })
	}
}

type claimMode struct {
	name                     string
	popClaim, capped, finish bool
}

func benchClaims(b *testing.B, m claimMode, workers int) {
	u, _ := pgtest.Schema(b, "")
	s, err := postgres.Open(context.Background(), u+"&pool_max_conns="+strconv.Itoa(workers))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q := openQueue(b, s, postgres.QueueOptions{})
	accountCount := 16
	if m.capped && !m.finish {
		accountCount = max(16, b.N/8)
	}
	var accounts []string
	for i := range accountCount {
		a, err := s.EnsureAccount(context.Background(), fmt.Sprint("acct-", i), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		accounts = append(accounts, a.ID)
	}
	// Recorded (and so queued) before the clock starts, in parallel.
	var made sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		made.Add(1)
		go func() {
			defer made.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := s.CreateCommand(context.Background(), newCommand(accounts[i%int64(len(accounts))])); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	made.Wait()
	// Claims without finishing have either no cap, or commands spread
	// over enough accounts that none reaches it.
	limit := 0
	if m.capped {
		limit = 8
	}
	b.ResetTimer()
	var claimed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; claimed.Load() < int64(b.N); n++ {
				owner := fmt.Sprint("w", w, "/", n)
				newLease := func() store.Lease {
					now := time.Now()
					return store.Lease{Owner: owner, Node: "bench", Now: now, ExpiresAt: now.Add(time.Minute), MaxRunningPerAccount: limit}
				}
				var id string
				if m.popClaim {
					got, err := q.PopClaim(ctx, newLease)
					if err != nil {
						if ctx.Err() == nil {
							b.Error(err)
						}
						return
					}
					id = got.ID
				} else {
					var err error
					if id, err = q.Pop(ctx); err != nil {
						return
					}
					if _, err := s.ClaimCommand(ctx, id, newLease()); err != nil {
						b.Error(err)
						return
					}
				}
				if m.finish {
					if err := s.FinishCommand(ctx, id, owner, store.Outcome{Status: store.StatusSuccess, FinishedAt: time.Now()}); err != nil {
						b.Error(err)
						return
					}
				}
				if claimed.Add(1) == int64(b.N) {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
