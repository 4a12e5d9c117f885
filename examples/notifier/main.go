// Command notifier shows an in-process Notifier beside webhooks: the
// engine calls it once for every command that finishes, with the same
// command object a webhook carries, and the app does what it likes with it
// (here: it logs it and hands it to a goroutine through a channel, as an
// app might publish it to a message bus).
//
//	go run ./examples/notifier
//
// Notifiers are called once, after the outcome is stored, and are not
// retried: what must not be lost belongs in a webhook (configured as
// usual, PUT /api/v1/webhook-config), which this engine still sends.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	_ "github.com/openrender/openrender/store/sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "where the server listens")
	dataDir := flag.String("data-dir", "notifier-data", "where OpenRender keeps its database and files")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{Addr: *addr, DataDir: *dataDir, Out: os.Stdout}); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	Addr, DataDir string
	// Out receives the log, one line per finished command among others.
	Out   io.Writer
	Ready func(baseURL, apiKey string)
}

// channelNotifier hands each finished command to a channel. Notify must
// return promptly (the engine waits for running calls when it stops), so
// it gives up when the channel stays full until ctx ends.
type channelNotifier chan<- notify.Event

func (ch channelNotifier) Notify(ctx context.Context, e notify.Event) error {
	select {
	case ch <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func run(ctx context.Context, cfg config) error {
	logger := slog.New(slog.NewTextHandler(cfg.Out, nil))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	baseURL := "http://" + ln.Addr().String()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(cfg.DataDir, "openrender.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	secret := make([]byte, 32)
	rand.Read(secret)
	signer, _ := storage.NewLinkSigner(secret)
	bucket, err := blobstore.Open(ctx, "file://"+filepath.Join(cfg.DataDir, "files"), blobstore.Options{PublicURL: baseURL, Signer: signer})
	if err != nil {
		return err
	}
	defer bucket.Close()

	events := make(chan notify.Event, 16)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for e := range events {
			// Anything the app wants: update its own records, publish, ...
			logger.Info("the app got a finished command", "command_id", e.Command.CommandID,
				"status", e.Command.Status, "outputs", len(e.Command.OutputFiles))
		}
	}()

	eng, err := engine.New(engine.Config{
		Store: st, Storage: bucket, WorkDir: filepath.Join(cfg.DataDir, "work"), Logger: logger,
		Notifiers: []notify.Notifier{
			// A plain callback...
			notify.NotifierFunc(func(ctx context.Context, e notify.Event) error {
				logger.Info("command finished", "command_id", e.Command.CommandID, "status", e.Command.Status,
					"error_status", e.Command.ErrorStatus)
				return nil
			}),
			// ...and a channel to another goroutine.
			channelNotifier(events),
		},
	})
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	key := engine.NewAPIKey()
	if _, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, key, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "API key: %s\n", key)

	srv := &http.Server{Handler: httpapi.New(eng, httpapi.Config{}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if cfg.Ready != nil {
		cfg.Ready(baseURL, key)
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	eng.Stop(shutdownCtx)
	// Once the engine has stopped no notifier runs: the channel can close.
	close(events)
	<-consumed
	return nil
}
