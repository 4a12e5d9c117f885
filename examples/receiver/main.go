// Command receiver is a webhook receiver for OpenRender (or RenderIO): it
// checks each delivery's signature with notify.Verify before trusting a
// byte of it, ignores repeats of an event it already handled (a retry
// after a lost answer sends the same webhook-id again), and answers 2xx
// quickly so that the sender does not retry.
//
//	WEBHOOK_SECRET=whsec_... go run ./examples/receiver --addr 127.0.0.1:9000
//	# then: PUT /api/v1/webhook-config {"url": "http://127.0.0.1:9000/hooks/openrender", "secret": "whsec_..."}
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/notify"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "where the receiver listens")
	flag.Parse()
	secret := os.Getenv("WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set WEBHOOK_SECRET to the secret given in PUT /api/v1/webhook-config")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stdout, nil))
	handle := func(e delivery) {
		logger.Info("command finished", "command_id", e.Data.CommandID, "status", e.Data.Status,
			"error_status", e.Data.ErrorStatus, "outputs", len(e.Data.OutputFiles))
	}
	if err := run(ctx, *addr, newReceiver(secret, logger, handle), nil); err != nil {
		log.Fatal(err)
	}
}

// delivery is a webhook body: the command object and when it was sent.
type delivery struct {
	Data api.Command `json:"data"`
	// Timestamp is Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
}

// maxBody bounds a delivery: a command object is a few KiB.
const maxBody = 1 << 20

// receiver verifies, de-duplicates and hands on deliveries.
type receiver struct {
	secret string
	log    *slog.Logger
	handle func(delivery)

	mu   sync.Mutex
	seen map[string]time.Time // webhook-id → when first handled
}

func newReceiver(secret string, logger *slog.Logger, handle func(delivery)) *receiver {
	return &receiver{secret: secret, log: logger, handle: handle, seen: map[string]time.Time{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// The signature covers the exact bytes: read them before decoding.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := notify.Verify(rc.secret, r.Header, body, time.Now()); err != nil {
		rc.log.Warn("rejected a delivery", "err", err, "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		http.Error(w, "not a webhook body", http.StatusBadRequest)
		return
	}
	// A signed repeat of a handled event (the sender retried because our
	// answer got lost) is acknowledged, not handled again.
	if id := r.Header.Get(notify.HeaderID); id != "" && !rc.firstTime(id) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rc.handle(d)
	w.WriteHeader(http.StatusNoContent)
}

// firstTime records an event id and reports whether it is new. Ids older
// than a day are forgotten: the sender's retries end well before that.
func (rc *receiver) firstTime(id string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	now := time.Now()
	for k, t := range rc.seen {
		if now.Sub(t) > 24*time.Hour {
			delete(rc.seen, k)
		}
	}
	if _, ok := rc.seen[id]; ok {
		return false
	}
	rc.seen[id] = now
	return true
}

// run serves h at /hooks/openrender until ctx ends; ready (if not nil) gets
// the hook's URL once serving.
func run(ctx context.Context, addr string, h http.Handler, ready func(hookURL string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/hooks/openrender", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	hookURL := fmt.Sprintf("http://%s/hooks/openrender", ln.Addr())
	if ready != nil {
		ready(hookURL)
	}
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
