package pubsubqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/queue/pubsubqueue"
)

// openTestRabbit opens a queue on a fresh exchange and queue, deleted at the
// end, and returns it with their name.
func openTestRabbit(t *testing.T) (*pubsubqueue.Queue, string) {
	t.Helper()
	server := os.Getenv("OPENRENDER_TEST_RABBIT_URL")
	if server == "" {
		t.Skip("OPENRENDER_TEST_RABBIT_URL is not set; skipping a test that needs RabbitMQ")
	}
	var b [6]byte
	rand.Read(b[:])
	name := "ortest_" + hex.EncodeToString(b[:])
	u := "rabbit://" + name + "?server=" + url.QueryEscape(server)
	q, err := pubsubqueue.OpenRabbit(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q.Close()
		if err := pubsubqueue.DeleteRabbit(u); err != nil {
			t.Errorf("delete exchange and queue: %v", err)
		}
	})
	return q, name
}

// pushPop pushes id and pops it back.
func pushPop(t *testing.T, ctx context.Context, q queue.Queue, id string) {
	t.Helper()
	if err := q.Push(ctx, id); err != nil {
		t.Fatalf("Push(%s): %v", id, err)
	}
	got, err := q.Pop(ctx)
	if err != nil || got != id {
		t.Fatalf("Pop = %q, %v; want %q", got, err, id)
	}
}

// pushOnceRedialed pushes id, trying again while the queue reports the lost
// connection, until ctx ends.
func pushOnceRedialed(t *testing.T, ctx context.Context, q queue.Queue, id string) {
	t.Helper()
	for {
		err := q.Push(ctx, id)
		if err == nil {
			return
		}
		t.Logf("Push during the outage: %v", err)
		select {
		case <-ctx.Done():
			t.Fatalf("Push(%s) never succeeded after the connection was lost: %v", id, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// survivesLostConnection checks a queue whose connection drop() kills: a
// Pop blocked across the loss gets a later Push, and the queue works on.
func survivesLostConnection(t *testing.T, q *pubsubqueue.Queue, drop func()) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pushPop(t, ctx, q, "before")

	popped := make(chan string, 1)
	go func() {
		for {
			id, err := q.Pop(ctx)
			if err != nil {
				id = "error: " + err.Error()
			}
			// Acks go out in batches, so "before" may not have been acked
			// when the connection died: the broker delivers it again, as a
			// queue may (the store makes duplicates harmless).
			if id != "before" {
				popped <- id
				return
			}
		}
	}()
	drop()
	pushOnceRedialed(t, ctx, q, "across")
	select {
	case got := <-popped:
		if got != "across" {
			t.Fatalf("the Pop blocked across the loss got %q, want %q", got, "across")
		}
	case <-ctx.Done():
		t.Fatal("the Pop blocked across the loss never returned")
	}
	if err := q.Push(ctx, "after"); err != nil {
		t.Fatalf("Push(after): %v", err)
	}
	for {
		got, err := q.Pop(ctx)
		if err != nil {
			t.Fatalf("Pop after the re-dial: %v", err)
		}
		if got == "after" {
			return
		}
		if got != "before" && got != "across" {
			t.Fatalf("Pop after the re-dial = %q, want %q", got, "after")
		}
	}
}

// The broker closes the queue's connections (as on a restart); rabbitmqctl
// closes only the connections that carry this test's queue name.
func TestRabbitRedialsWhenTheBrokerClosesTheConnection(t *testing.T) {
	q, name := openTestRabbit(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl is not installed; TestRabbitRedialsWhenTheConnectionDrops covers this from the client side")
	}
	if _, err := rabbitConnections(t.Context(), name); err != nil {
		t.Skipf("rabbitmqctl cannot list connections here: %v", err)
	}
	var closed []string
	survivesLostConnection(t, q, func() {
		pids, err := rabbitConnections(t.Context(), name)
		closed = pids
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) != 2 {
			t.Fatalf("found %d connections named for %s, want 2 (push and pop)", len(pids), name)
		}
		for _, pid := range pids {
			out, err := exec.CommandContext(t.Context(), "rabbitmqctl", "close_connection", pid, "openrender test: simulated broker restart").CombinedOutput()
			if err != nil {
				t.Fatalf("rabbitmqctl close_connection %s: %v\n%s", pid, err, out)
			}
		}
	})
	pids, err := rabbitConnections(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 2 || slices.Contains(closed, pids[0]) || slices.Contains(closed, pids[1]) {
		t.Fatalf("connections after the re-dial: %v; want two new ones (closed %v)", pids, closed)
	}
}

// rabbitConnections lists the broker's ids of the connections whose
// client properties (connection_name) mention name.
func rabbitConnections(ctx context.Context, name string) ([]string, error) {
	// The table output, not the JSON one: close_connection takes the pid
	// only as the table prints it.
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "--no-table-headers", "list_connections", "pid", "client_properties").Output()
	if err != nil {
		return nil, err
	}
	var pids []string
	for line := range strings.Lines(string(out)) {
		pid, props, ok := strings.Cut(line, "\t")
		if ok && strings.Contains(props, " "+name+" ") {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// The connections die under the queue without the broker's word, as when
// the network drops.
func TestRabbitRedialsWhenTheConnectionDrops(t *testing.T) {
	q, _ := openTestRabbit(t)
	survivesLostConnection(t, q, func() { pubsubqueue.DropConnection(q) })
}

// While the broker stays down, Push fails at once, and Close stops
// re-dialing and wakes the blocked Pops.
func TestRabbitCloseDuringAnOutage(t *testing.T) {
	q, _ := openTestRabbit(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pushPop(t, ctx, q, "before")

	pubsubqueue.FailDials(q)
	popped := make(chan error, 1)
	go func() {
		_, err := q.Pop(ctx)
		popped <- err
	}()
	pubsubqueue.DropConnection(q)
	// Push notices the loss itself or finds it already noticed; either way
	// it fails rather than waiting for the broker.
	for i := 0; ; i++ {
		err := q.Push(ctx, "during")
		if err != nil {
			break
		}
		if i == 10 {
			t.Fatal("Push kept succeeding on a dropped connection")
		}
	}
	if err := q.Push(ctx, "during"); err == nil || errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Push during the outage = %v, want a connection error", err)
	}
	q.Close()
	select {
	case err := <-popped:
		if !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("Pop after Close during the outage = %v, want queue.ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not wake a Pop blocked during the outage")
	}
	if err := q.Push(ctx, "closed"); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Push after Close = %v, want queue.ErrClosed", err)
	}
}
