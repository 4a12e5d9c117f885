// Command embed shows OpenRender inside an existing Go web app: the app
// keeps its own http.ServeMux and routes, mounts OpenRender's HTTP API
// under /render/, and starts and stops the engine with its own context.
//
//	go run ./examples/embed --addr 127.0.0.1:8080 --data-dir ./embed-data
//	curl http://127.0.0.1:8080/                                  # the app's own page
//	curl -H "X-API-KEY: $KEY" http://127.0.0.1:8080/render/api/v1/commands
//
// It prints an API key on start unless OPENRENDER_API_KEY gives one.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	_ "github.com/openrender/openrender/store/sqlite" // the sqlite:// state store
)

func main() {
	var cfg config
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "where the app listens")
	flag.StringVar(&cfg.DataDir, "data-dir", "embed-data", "where OpenRender keeps its database and files")
	flag.Parse()
	cfg.APIKey = os.Getenv("OPENRENDER_API_KEY")
	cfg.Out = os.Stdout

	// The app's lifetime: Ctrl-C or SIGTERM ends it, and with it the engine.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	Addr, DataDir string
	// APIKey is given to the default account; a new one is made and
	// printed when empty.
	APIKey string
	Out    io.Writer
	// Ready, if set, is called with the app's base URL and the API key once
	// it serves (tests use it).
	Ready func(baseURL, apiKey string)
	// AllowPrivateURLs lets commands read inputs from loopback (tests).
	AllowPrivateURLs bool
}

// run serves the app until ctx ends, then shuts the HTTP server down and
// stops the engine, letting running commands finish for a while.
func run(ctx context.Context, cfg config) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	baseURL := "http://" + ln.Addr().String()

	// OpenRender's parts: a SQLite state store and a local bucket whose
	// links are signed and served by the handler, under the app's prefix.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(cfg.DataDir, "openrender.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	signer, err := linkSigner(filepath.Join(cfg.DataDir, "link-secret"))
	if err != nil {
		return err
	}
	bucket, err := blobstore.Open(ctx, "file://"+filepath.Join(cfg.DataDir, "files"),
		blobstore.Options{PublicURL: baseURL + "/render", Signer: signer})
	if err != nil {
		return err
	}
	defer bucket.Close()
	eng, err := engine.New(engine.Config{
		Store: st, Storage: bucket, WorkDir: filepath.Join(cfg.DataDir, "work"),
		AllowPrivateURLs: cfg.AllowPrivateURLs,
	})
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer func() {
		// ctx is done by now: stopping gets a fresh deadline of its own.
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		eng.Stop(stopCtx)
	}()

	key := cfg.APIKey
	if key == "" {
		key = engine.NewAPIKey()
		fmt.Fprintf(cfg.Out, "API key: %s\n", key)
	}
	if _, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, key, time.Now()); err != nil {
		return err
	}

	// The app's own mux: its routes, and OpenRender under /render/.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Welcome to the app. Its render API is under /render/api/v1/.")
	})
	mux.Handle("/render/", http.StripPrefix("/render", httpapi.New(eng, httpapi.Config{})))

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(cfg.Out, "listening on %s (OpenRender under %s/render/)\n", baseURL, baseURL)
	if cfg.Ready != nil {
		cfg.Ready(baseURL, key)
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

// linkSigner signs storage links with a secret kept in path, made on first
// use, so links stay valid across restarts.
func linkSigner(path string) (*storage.LinkSigner, error) {
	secret, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret = make([]byte, 32)
		rand.Read(secret)
		err = os.WriteFile(path, secret, 0o600)
	}
	if err != nil {
		return nil, err
	}
	return storage.NewLinkSigner(secret)
}
