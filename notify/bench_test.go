package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/internal/fetch"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/sqlite"
)

// BenchmarkWebhookDeliveries measures delivery throughput: b.N events are
// pending in a real SQLite store (each written as FinishCommand writes it),
// and one WebhookSender with the default 32 senders delivers them to a
// loopback receiver that answers 200 at once. Every attempt is claimed,
// sent, and recorded in the delivery log before the clock stops.
//
// Run: go test ./notify -run '^$' -bench WebhookDeliveries -benchtime 5000x
func BenchmarkWebhookDeliveries(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var received atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(200)
	}))
	defer recv.Close()

	acct, err := st.EnsureAccount(ctx, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	addPendingEvents(b, st, acct.ID, recv.URL, b.N)
	sender, err := notify.NewWebhookSender(notify.SenderConfig{
		Store:  st,
		Client: fetch.NewClient(fetch.Options{AllowPrivate: true, NoRedirects: true, MaxIdleConnsPerHost: notify.DefaultSenders}),
	})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})

	b.ResetTimer()
	start := time.Now()
	go func() {
		sender.Run(runCtx)
		close(done)
	}()
	for {
		// Finished means recorded: nothing pending is left in the store.
		if received.Load() >= int64(b.N) {
			if _, pending, err := st.NextWebhookWake(ctx); err == nil && !pending {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-done

	if got := received.Load(); got != int64(b.N) {
		b.Fatalf("receiver got %d requests for %d events", got, b.N)
	}
	log, err := st.ListWebhookDeliveries(ctx, store.DeliveryQuery{AccountID: acct.ID, Limit: b.N + 1})
	if err != nil || len(log) != b.N {
		b.Fatalf("delivery log has %d records, want %d (%v)", len(log), b.N, err)
	}
	for _, d := range log {
		if !d.Finished || !d.Success {
			b.Fatalf("attempt not recorded as delivered: %+v", d)
		}
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
}

// addPendingEvents writes n finished commands, each with a pending event
// to url due now, as FinishCommand writes them.
func addPendingEvents(tb testing.TB, st store.Store, accountID, url string, n int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < n; i++ {
		c := &store.Command{
			ID: uuid.NewString(), AccountID: accountID, Type: store.TypeFFmpegCommand, Status: store.StatusQueued,
			Request: []byte(`{}`), CreatedAt: now, UpdatedAt: now,
		}
		if err := st.CreateCommand(ctx, c); err != nil {
			tb.Fatal(err)
		}
		if _, err := st.ClaimCommand(ctx, c.ID, store.Lease{Owner: "w", Node: "n", Now: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			tb.Fatal(err)
		}
		if err := st.FinishCommand(ctx, c.ID, "w", store.Outcome{
			Status: store.StatusSuccess, FinishedAt: now,
			Event: &store.WebhookEvent{
				ID: uuid.NewString(), AccountID: accountID, CommandID: c.ID, URL: url, Secret: "s",
				Payload:     []byte(`{"data":{"command_id":"` + c.ID + `","status":"SUCCESS"},"timestamp":1700000000000}`),
				MaxAttempts: 8, NextAttemptAt: now, CreatedAt: now,
			},
		}); err != nil {
			tb.Fatal(err)
		}
	}
}
