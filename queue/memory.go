package queue

import (
	"context"
	"sync"
)

// Memory is an in-process FIFO queue. It never blocks Push (the backlog is
// bounded by what the store accepted, and ids are small), hands an id
// straight to a waiting Pop when there is one, and ignores a Push of an id
// that is already waiting, so that recovery sweeps re-pushing the same
// backlog don't grow it.
type Memory struct {
	mu      sync.Mutex
	items   []string            // waiting ids, oldest first, from head
	head    int                 // index of the oldest waiting id in items
	waiting map[string]struct{} // ids in items[head:]
	poppers []chan string       // blocked Pops, oldest first; each buffered 1
	closed  bool
}

var _ Queue = (*Memory)(nil)

// NewMemory returns an empty in-process queue.
func NewMemory() *Memory {
	return &Memory{waiting: make(map[string]struct{})}
}

// Push implements Queue.
func (q *Memory) Push(ctx context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if _, dup := q.waiting[id]; dup {
		return nil
	}
	if len(q.poppers) > 0 {
		p := q.poppers[0]
		q.poppers = q.poppers[1:]
		p <- id // buffered: never blocks
		return nil
	}
	q.items = append(q.items, id)
	q.waiting[id] = struct{}{}
	return nil
}

// Pop implements Queue.
func (q *Memory) Pop(ctx context.Context) (string, error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return "", ErrClosed
	}
	if id, ok := q.takeLocked(); ok {
		q.mu.Unlock()
		return id, nil
	}
	p := make(chan string, 1)
	q.poppers = append(q.poppers, p)
	q.mu.Unlock()

	select {
	case id, ok := <-p:
		if !ok {
			return "", ErrClosed
		}
		return id, nil
	case <-ctx.Done():
		q.mu.Lock()
		defer q.mu.Unlock()
		for i, w := range q.poppers {
			if w == p {
				q.poppers = append(q.poppers[:i], q.poppers[i+1:]...)
				return "", ctx.Err()
			}
		}
		// A Push handed us an id (or Close closed p) while we were giving
		// up: put the id back at the front rather than lose it.
		if id, ok := <-p; ok && !q.closed {
			q.unshiftLocked(id)
		}
		return "", ctx.Err()
	}
}

func (q *Memory) takeLocked() (string, bool) {
	if q.head == len(q.items) {
		return "", false
	}
	id := q.items[q.head]
	q.items[q.head] = ""
	q.head++
	delete(q.waiting, id)
	if q.head == len(q.items) { // drained: reuse the backing array
		q.items, q.head = q.items[:0], 0
	}
	return id, true
}

func (q *Memory) unshiftLocked(id string) {
	if len(q.poppers) > 0 {
		p := q.poppers[0]
		q.poppers = q.poppers[1:]
		p <- id
		return
	}
	if q.head > 0 {
		q.head--
		q.items[q.head] = id
	} else {
		q.items = append([]string{id}, q.items...)
	}
	q.waiting[id] = struct{}{}
}

// Len reports how many ids are waiting.
func (q *Memory) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Close implements Queue.
func (q *Memory) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	for _, p := range q.poppers {
		close(p)
	}
	q.poppers = nil
	return nil
}
