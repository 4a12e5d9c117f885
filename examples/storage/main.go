// Command storage runs the same engine against any blob storage, chosen by
// one flag and nothing else: file:// (a local directory), mem:// (in
// memory, for tests and demos) or an S3-compatible bucket (AWS S3, MinIO,
// Cloudflare R2, ...). Local buckets get links signed and served by the
// HTTP handler; cloud buckets get the cloud's own presigned URLs.
//
//	go run ./examples/storage --storage file://./storage-data/files
//	go run ./examples/storage --storage mem://
//	AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... go run ./examples/storage \
//	    --storage 's3://my-bucket?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1'
//
// Only the S3 driver is linked (the blank import below); add
// gocloud.dev/blob/gcsblob or azureblob the same way for gs:// or azblob://.
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

	_ "gocloud.dev/blob/s3blob" // s3:// URLs

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	_ "github.com/openrender/openrender/store/sqlite"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.StorageURL, "storage", "file://./storage-data/files", "the bucket: file://DIR, mem:// or s3://BUCKET?...")
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "where the server listens")
	flag.StringVar(&cfg.DataDir, "data-dir", "storage-data", "where the state database and work dirs live")
	flag.Parse()
	cfg.APIKey = os.Getenv("OPENRENDER_API_KEY")
	cfg.Out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	StorageURL, Addr, DataDir, APIKey string
	Out                               io.Writer
	// Ready, if set, gets the base URL and the API key once serving.
	Ready func(baseURL, apiKey string)
}

func run(ctx context.Context, cfg config) error {
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

	// The one line that differs between backends is the URL. The signer
	// and public URL are used by local buckets only; a cloud bucket
	// presigns its own links.
	secret := make([]byte, 32)
	rand.Read(secret)
	signer, _ := storage.NewLinkSigner(secret)
	bucket, err := blobstore.Open(ctx, cfg.StorageURL, blobstore.Options{PublicURL: baseURL, Signer: signer})
	if err != nil {
		return fmt.Errorf("opening %s: %w", cfg.StorageURL, err)
	}
	defer bucket.Close()

	eng, err := engine.New(engine.Config{Store: st, Storage: bucket, WorkDir: filepath.Join(cfg.DataDir, "work")})
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
	key := cfg.APIKey
	if key == "" {
		key = engine.NewAPIKey()
		fmt.Fprintf(cfg.Out, "API key: %s\n", key)
	}
	if _, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, key, time.Now()); err != nil {
		return err
	}

	srv := &http.Server{Handler: httpapi.New(eng, httpapi.Config{}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(cfg.Out, "listening on %s, files in %s\n", baseURL, cfg.StorageURL)
	if cfg.Ready != nil {
		cfg.Ready(baseURL, key)
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
