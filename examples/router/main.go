// Command router mounts OpenRender on github.com/go-chi/chi, to show that
// httpapi.New returns an ordinary http.Handler: any router that can mount a
// handler under a prefix can host it, behind the router's own middleware.
//
//	go run ./examples/router --addr 127.0.0.1:8080
//	curl http://127.0.0.1:8080/hello
//	curl -H "X-API-KEY: $KEY" http://127.0.0.1:8080/render/api/v1/commands
package main

import (
	"context"
	"crypto/rand"
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

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	_ "github.com/openrender/openrender/store/sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "where the app listens")
	dataDir := flag.String("data-dir", "router-data", "where OpenRender keeps its database and files")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *dataDir, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends; ready (if not nil) gets the base URL and the
// API key once the app serves.
func run(ctx context.Context, addr, dataDir string, out io.Writer, ready func(baseURL, apiKey string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	baseURL := "http://" + ln.Addr().String()

	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dataDir, "openrender.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	secret := make([]byte, 32) // links die with the process; see examples/embed to keep them
	rand.Read(secret)
	signer, _ := storage.NewLinkSigner(secret)
	bucket, err := blobstore.Open(ctx, "file://"+filepath.Join(dataDir, "files"),
		blobstore.Options{PublicURL: baseURL + "/render", Signer: signer})
	if err != nil {
		return err
	}
	defer bucket.Close()
	eng, err := engine.New(engine.Config{Store: st, Storage: bucket, WorkDir: filepath.Join(dataDir, "work")})
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		eng.Stop(stopCtx)
	}()
	key := os.Getenv("OPENRENDER_API_KEY")
	if key == "" {
		key = engine.NewAPIKey()
		fmt.Fprintf(out, "API key: %s\n", key)
	}
	if _, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, key, time.Now()); err != nil {
		return err
	}

	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer)
	r.Get("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from chi (request %s)\n", middleware.GetReqID(r.Context()))
	})
	// chi routes on the full path but leaves r.URL.Path alone, so the
	// prefix is stripped for OpenRender, which routes on its own paths.
	r.Mount("/render", http.StripPrefix("/render", httpapi.New(eng, httpapi.Config{})))

	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(out, "listening on %s\n", baseURL)
	if ready != nil {
		ready(baseURL, key)
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
