package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/queue"
)

// DefaultPollInterval is how often a waiting Pop of the Postgres queue
// looks at the table even though no notification arrived. Notifications
// are the wake-up; this only bounds the delay when one is lost (the
// listening connection broke just as it was sent).
const DefaultPollInterval = 2 * time.Second

// QueueOptions configure a Queue.
type QueueOptions struct {
	// PollInterval: see DefaultPollInterval.
	PollInterval time.Duration
}

// Queue is a queue.Queue kept in the store's own database, for engine
// processes that share a Postgres store and no broker.
//
// Its rows (table queue_jobs) are hints, like a broker's messages: the
// commands table still decides, by lease, who runs a command. What the
// table adds is that enqueueing is part of recording: once a Queue is in
// use, CreateCommand inserts the command's queue row in the statement that
// inserts the command, so a command can't be recorded and not queued (or
// queued and not recorded), whatever crashes when.
//
// Pop takes the oldest row with DELETE … FOR UPDATE SKIP LOCKED, so workers
// of every process take different rows without waiting on each other's
// locks, and each row reaches one Pop. A worker that dies between Pop and
// its claim loses only a hint: the engine's recovery sweep pushes every
// claimable command again. Waiting Pops are woken by LISTEN/NOTIFY (every
// insert notifies at commit) on one connection per Queue, with a poll
// every PollInterval in case a notification is lost.
type Queue struct {
	s    *Store
	poll time.Duration

	mu   sync.Mutex
	wake chan struct{} // closed, and replaced, at each notification

	closed    chan struct{}
	closeOnce sync.Once
	stop      context.CancelFunc
	listening sync.WaitGroup
}

var (
	_ queue.Queue    = (*Queue)(nil)
	_ queue.StoreFed = (*Queue)(nil)
	_ queue.Claimer  = (*Queue)(nil)
)

// Queue returns the store's queue and makes CreateCommand queue every
// command it records from now on. Every process that submits commands to
// workers using this queue must open it before submitting.
func (s *Store) Queue(opts QueueOptions) *Queue {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	s.enqueue.Store(true)
	ctx, stop := context.WithCancel(context.Background())
	q := &Queue{s: s, poll: opts.PollInterval, wake: make(chan struct{}), closed: make(chan struct{}), stop: stop}
	q.listening.Add(1)
	go q.listen(ctx)
	return q
}

// channel is the NOTIFY channel of this store's queue. Channels are
// database-wide, so the name includes a hash of the schema: stores in two
// schemas of one database don't wake each other.
func (s *Store) channel() string {
	h := fnv.New32a()
	h.Write([]byte(s.schema))
	return "openrender_queue_" + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// FedByStore implements queue.StoreFed: the engine need not push commands
// it submits, CreateCommand has queued them.
func (q *Queue) FedByStore() bool { return true }

// Push implements queue.Queue. An id already waiting is not added twice. A
// command's id takes its place by the command's creation time (see
// queue_jobs in the migrations).
func (q *Queue) Push(ctx context.Context, id string) error {
	select {
	case <-q.closed:
		return queue.ErrClosed
	default:
	}
	_, err := q.s.pool.Exec(ctx, `WITH q AS (INSERT INTO queue_jobs (id, queued_at)
			SELECT $1, COALESCE((SELECT created_at FROM commands WHERE id = $1), $3)
			ON CONFLICT (id) DO NOTHING)
		SELECT pg_notify($2, '')`, id, q.s.channel(), time.Now().UnixMicro())
	return err
}

// popSQL takes the first row no other Pop is taking. Both statements run
// in one implicit transaction (one simple-protocol query), whose commit
// need not wait for the disk: a pop lost in a database crash only makes
// its row (a hint) come back.
const popSQL = `SET LOCAL synchronous_commit = off;
	DELETE FROM queue_jobs WHERE id = (SELECT id FROM queue_jobs ORDER BY queued_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`

// Pop implements queue.Queue.
func (q *Queue) Pop(ctx context.Context) (string, error) {
	var id string
	err := q.wait(ctx, func() (bool, error) {
		var err error
		id, err = q.take(ctx)
		return id != "", err
	})
	return id, err
}

// wait calls take until it finds something (or fails), and between calls
// waits for a notification, or PollInterval in case one was lost.
func (q *Queue) wait(ctx context.Context, take func() (bool, error)) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-q.closed:
			return queue.ErrClosed
		default:
		}
		// Take the wake channel before looking, so that a row inserted
		// after the look is announced on the channel we then wait on.
		q.mu.Lock()
		wake := q.wake
		q.mu.Unlock()
		found, err := take()
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return err
		case found:
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(q.poll)
		} else {
			timer.Reset(q.poll)
		}
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-q.closed:
			return queue.ErrClosed
		}
	}
}

// take runs popSQL and returns the id it took, or "" if none was waiting.
func (q *Queue) take(ctx context.Context) (string, error) {
	conn, err := q.s.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	results, err := conn.Conn().PgConn().Exec(ctx, popSQL).ReadAll()
	if err != nil {
		return "", err
	}
	if len(results) != 2 {
		return "", fmt.Errorf("postgres queue: pop returned %d results, want 2", len(results))
	}
	if rows := results[1].Rows; len(rows) == 1 {
		return string(rows[0][0]), nil
	}
	return "", nil
}

// wakeAll wakes every waiting Pop.
func (q *Queue) wakeAll() {
	q.mu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

// listen holds a connection that LISTENs on the queue's channel and wakes
// the waiting Pops at each notification, reconnecting when the connection
// breaks (after which it wakes them anyway: a notification may have been
// missed).
func (q *Queue) listen(ctx context.Context) {
	defer q.listening.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := q.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		q.wakeAll()
		_ = err // the Pops' poll covers the gap; the next attempt reports nothing new
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (q *Queue) listenOnce(ctx context.Context) error {
	conn, err := q.s.connectListener(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{q.s.channel()}.Sanitize()); err != nil {
		return err
	}
	q.wakeAll() // rows may have arrived while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		q.wakeAll()
	}
}

// Close implements queue.Queue: it wakes every waiting Pop with
// queue.ErrClosed and stops listening. It does not close the store.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		close(q.closed)
		q.stop()
		q.listening.Wait()
	})
	return nil
}
