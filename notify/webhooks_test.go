package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/internal/fetch"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/sqlite"
)

// Two senders on one database file (as two engine processes on one host
// would be) deliver every event exactly once between them.
func TestTwoSendersNeverSendAnEventTwice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	var (
		mu  sync.Mutex
		got = map[string]int{}
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(notify.HeaderID)]++
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer recv.Close()

	stores := make([]*sqlite.Store, 2)
	for i := range stores {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	acct, err := stores[0].EnsureAccount(ctx, "a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	addPendingEvents(t, stores[0], acct.ID, recv.URL, n)

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, st := range stores {
		s, err := notify.NewWebhookSender(notify.SenderConfig{
			Store:   st,
			Client:  fetch.NewClient(fetch.Options{AllowPrivate: true, NoRedirects: true}),
			Node:    []string{"node-a", "node-b"}[i],
			Senders: 8,
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Run(runCtx)
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, pending, err := stores[1].NextWebhookWake(ctx); err == nil && !pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events still pending after 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("receiver saw %d events, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Fatalf("event %s arrived %d times", id, c)
		}
	}
	log, err := stores[0].ListWebhookDeliveries(ctx, store.DeliveryQuery{AccountID: acct.ID, Limit: n + 1})
	if err != nil || len(log) != n {
		t.Fatalf("delivery log: %d records (%v), want %d", len(log), err, n)
	}
}
