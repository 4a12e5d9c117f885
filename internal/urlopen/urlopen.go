// Package urlopen is the URL-scheme registry behind store.Open and
// queue.Open: drivers register an opener for a scheme from init, so a
// program links only the drivers it imports, as gocloud.dev does for
// blobs.
package urlopen

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Registry maps URL schemes to openers of T. The zero value is not usable;
// use New.
type Registry[T any] struct {
	kind    string // "store", "queue": the prefix of errors and panics
	mu      sync.RWMutex
	openers map[string]func(context.Context, *url.URL) (T, error)
}

// New returns an empty registry whose errors start with kind.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, openers: map[string]func(context.Context, *url.URL) (T, error){}}
}

// Register makes open serve URLs of scheme (compared case-insensitively).
// Registering a scheme twice panics: two drivers claiming one scheme is a
// program error.
func (r *Registry[T]) Register(scheme string, open func(context.Context, *url.URL) (T, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	scheme = strings.ToLower(scheme)
	if _, dup := r.openers[scheme]; dup {
		panic(r.kind + ": Register called twice for scheme " + scheme)
	}
	r.openers[scheme] = open
}

// Open parses rawURL and calls the opener of its scheme.
func (r *Registry[T]) Open(ctx context.Context, rawURL string) (T, error) {
	var zero T
	u, err := url.Parse(rawURL)
	if err != nil {
		return zero, fmt.Errorf("%s: bad URL %q: %w", r.kind, rawURL, err)
	}
	r.mu.RLock()
	open := r.openers[strings.ToLower(u.Scheme)]
	r.mu.RUnlock()
	if open == nil {
		return zero, fmt.Errorf("%s: no driver for scheme %q (known: %s); import the driver package",
			r.kind, u.Scheme, strings.Join(r.Schemes(), ", "))
	}
	return open(ctx, u)
}

// Schemes lists the registered schemes, sorted.
func (r *Registry[T]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := make([]string, 0, len(r.openers))
	for k := range r.openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
