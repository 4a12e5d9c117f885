package queue

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Opener opens a queue from a URL of the scheme it was registered for.
type Opener func(ctx context.Context, u *url.URL) (Queue, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes a driver available to Open under a URL scheme. Drivers
// call it from init, so importing a driver package (often with a blank
// import) is what makes its scheme work, as with store.Register. Registering
// a scheme twice panics.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	scheme = strings.ToLower(scheme)
	if _, dup := openers[scheme]; dup {
		panic("queue: Register called twice for scheme " + scheme)
	}
	openers[scheme] = open
}

// Open opens the queue a URL names, such as "nats://127.0.0.1:4222/openrender"
// (queue/natsqueue) or "rabbit://openrender" (queue/pubsubqueue). The
// scheme's driver must have been imported.
func Open(ctx context.Context, rawURL string) (Queue, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("queue: bad URL %q: %w", rawURL, err)
	}
	openersMu.RLock()
	open := openers[strings.ToLower(u.Scheme)]
	openersMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("queue: no driver for scheme %q (known: %s); import the driver package",
			u.Scheme, strings.Join(Schemes(), ", "))
	}
	return open(ctx, u)
}

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	s := make([]string, 0, len(openers))
	for k := range openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
