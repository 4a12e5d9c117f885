package engine

import (
	"context"
	"sync"
)

// broadcaster wakes everyone waiting on a key when it is signalled.
type broadcaster struct {
	mu      sync.Mutex
	waiters map[string]*waitEntry
}

type waitEntry struct {
	ch    chan struct{}
	users int
}

func newBroadcaster() *broadcaster {
	return &broadcaster{waiters: make(map[string]*waitEntry)}
}

// wait returns a channel closed at the next signal for key, and a function
// the caller must call when it stops waiting, so entries for keys that are
// never signalled here don't pile up.
func (b *broadcaster) wait(key string) (<-chan struct{}, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.waiters[key]
	if !ok {
		w = &waitEntry{ch: make(chan struct{})}
		b.waiters[key] = w
	}
	w.users++
	return w.ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		w.users--
		if w.users == 0 && b.waiters[key] == w {
			delete(b.waiters, key)
		}
	}
}

func (b *broadcaster) signal(key string) {
	b.mu.Lock()
	w, ok := b.waiters[key]
	delete(b.waiters, key)
	b.mu.Unlock()
	if ok {
		close(w.ch)
	}
}

// Wait blocks until the command is SUCCESS or FAILED, or ctx is done, and
// returns it as Get does. Commands run by this process wake it the moment
// they finish; commands run by other processes sharing the store are seen
// within WatchInterval (at once with Config.Signal). It is Watch, keeping
// only the last state.
func (e *Engine) Wait(ctx context.Context, accountID, id string) (*CommandInfo, error) {
	var last *CommandInfo
	if err := e.Watch(ctx, accountID, id, func(c *CommandInfo) error {
		last = c
		return nil
	}); err != nil {
		return nil, err
	}
	return last, nil
}
