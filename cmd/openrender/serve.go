package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/postgres"
	_ "github.com/openrender/openrender/store/sqlite" // the default state store
)

// The roles of --role.
const (
	roleAll    = "all"
	roleAPI    = "api"
	roleWorker = "worker"
)

type serveFlags struct {
	addr, dataDir, databaseURL, storageURL, publicURL string
	workers                                           int
	apiKeys                                           stringList
	allowPrivateURLs                                  bool
	shutdownGrace, leaseDuration                      time.Duration
	commandTimeout, maxCommandTimeout                 time.Duration
	downloadTimeout, storageURLTTL, retention         time.Duration
	maxInputBytes, maxOutputBytes, maxBodyBytes       int64
	maxUploadBytes                                    int64
	signingKey, nodeID, logLevel                      string
	queueURL, role                                    string
	webhookSchedule                                   durationList
	webhookTimeout                                    time.Duration
	webhookDisableAfter                               int

	// Sandbox and abuse limits.
	unsafeNoSandbox                    bool
	sandboxReadOnlyPaths               stringList
	maxMemoryBytes, maxProcesses       int64
	maxPixels                          int64
	maxRunningPerAccount               int
	rateLimitPerMinute, rateLimitBurst int
}

func (f *serveFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	fs.StringVar(&f.dataDir, "data-dir", "./openrender-data", "`directory` for the SQLite database, the local bucket and work dirs")
	fs.StringVar(&f.databaseURL, "database-url", "", "state store `URL` (default sqlite://<data-dir>/openrender.db)")
	fs.StringVar(&f.storageURL, "storage-url", "", "blob storage `URL` for files and outputs: file://, mem://, s3:// (S3-compatible servers: ?endpoint=…&use_path_style=true), gs://, azblob:// (default file://<data-dir>/files)")
	fs.StringVar(&f.publicURL, "public-url", "", "base `URL` of the storage_url links this server serves (default http://<addr>)")
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "commands to run at once")
	fs.Var(&f.apiKeys, "api-key", "API `key` (ffsk_ and 64 hex digits) for the default account; repeatable")
	fs.BoolVar(&f.allowPrivateURLs, "allow-private-urls", false, "let inputs and webhooks reach loopback and private addresses (tests, local use)")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM, how long running commands may finish before they are stopped and released")
	fs.DurationVar(&f.leaseDuration, "lease-duration", engine.DefaultLeaseDuration, "how long a dead worker's command waits before another worker takes it")
	fs.DurationVar(&f.commandTimeout, "command-timeout", engine.DefaultRunTimeout, "ffmpeg run time limit when a request sets no max_command_run_seconds")
	fs.DurationVar(&f.maxCommandTimeout, "max-command-timeout", engine.DefaultMaxRunTimeout, "the largest max_command_run_seconds a request may ask for")
	fs.DurationVar(&f.downloadTimeout, "download-timeout", engine.DefaultDownloadTimeout, "time limit for downloading each input")
	fs.DurationVar(&f.storageURLTTL, "storage-url-ttl", engine.DefaultStorageURLTTL, "how long a storage_url link stays valid")
	fs.Int64Var(&f.maxInputBytes, "max-input-bytes", engine.DefaultMaxInputBytes, "size limit of each input file")
	fs.Int64Var(&f.maxOutputBytes, "max-output-bytes", engine.DefaultMaxOutputBytes, "size limit of each output file")
	fs.Int64Var(&f.maxUploadBytes, "max-upload-bytes", engine.DefaultMaxUploadBytes, "size limit of a file uploaded to /api/v1/files/upload (larger ones get 413)")
	fs.DurationVar(&f.retention, "retention", 0, "delete files and command outputs older than this (e.g. 720h); 0 keeps them forever")
	fs.Int64Var(&f.maxBodyBytes, "max-body-bytes", httpapi.DefaultMaxBodyBytes, "size limit of a JSON request body")
	fs.StringVar(&f.signingKey, "signing-key", "", "secret that signs local storage links, shared by every process serving them (default: <data-dir>/signing.key, created on first start)")
	fs.StringVar(&f.nodeID, "node-id", "", "this process's name in leases and logs; unique among processes sharing a store (default: host name and a random suffix)")
	fs.StringVar(&f.queueURL, "queue-url", "", "how accepted commands reach workers: memory (in this process), postgres (the --database-url database itself), nats://host:4222/STREAM (JetStream) or rabbit://NAME?server=amqp://… (default: postgres when the store is Postgres, else memory)")
	fs.StringVar(&f.role, "role", roleAll, "api (serve HTTP, run no commands), worker (run commands, serve no HTTP) or all")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.webhookSchedule = durationList(notify.DefaultRetrySchedule)
	fs.Var(&f.webhookSchedule, "webhook-schedule", "comma-separated `delays` before each webhook attempt, the first counted from the command's end and each next from the previous failure; their number is the number of attempts")
	fs.DurationVar(&f.webhookTimeout, "webhook-timeout", notify.DefaultAttemptTimeout, "a webhook attempt succeeds only on a 2xx answer within this time")
	fs.IntVar(&f.webhookDisableAfter, "webhook-disable-after", notify.DefaultDisableAfter, "consecutive failed attempts that disable an account webhook")
	fs.BoolVar(&f.unsafeNoSandbox, "unsafe-no-sandbox", false, "run ffmpeg WITHOUT the sandbox when this host can't provide one (no Landlock or namespaces); only for trusted commands")
	fs.Var(&f.sandboxReadOnlyPaths, "sandbox-read-only-path", "extra absolute `path` sandboxed ffmpeg may read (e.g. a fonts dir outside /usr); repeatable")
	fs.Int64Var(&f.maxMemoryBytes, "max-memory-bytes", engine.DefaultMaxMemoryBytes, "address-space limit of each ffmpeg run (RLIMIT_AS); -1: none")
	fs.Int64Var(&f.maxProcesses, "max-processes", engine.DefaultMaxProcesses, "process and thread limit of each sandboxed ffmpeg run (RLIMIT_NPROC); -1: none")
	fs.Int64Var(&f.maxPixels, "max-pixels", engine.DefaultMaxPixels, "largest decoded frame, in pixels (ffmpeg -max_pixels on every input)")
	fs.IntVar(&f.maxRunningPerAccount, "max-running-per-account", engine.DefaultMaxRunningPerAccount, "commands of one account running at once, across every process sharing the store; the rest wait QUEUED; -1: no limit")
	fs.IntVar(&f.rateLimitPerMinute, "rate-limit-per-minute", httpapi.DefaultRateLimitPerMinute, "POST requests per minute per account (per process); over it: 429 with Retry-After; -1: no limit")
	fs.IntVar(&f.rateLimitBurst, "rate-limit-burst", httpapi.DefaultRateLimitBurst, "POST requests an account may make in a burst")
}

func serve(args []string) int {
	var f serveFlags
	fs := flag.NewFlagSet("openrender serve", flag.ContinueOnError)
	f.define(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: openrender serve [flags]\n\nEach flag can also be set as OPENRENDER_<FLAG> in the environment.\n\n")
		fs.PrintDefaults()
	}
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(os.Stderr, "openrender serve:", err)
		return exitUsage
	}
	switch f.role {
	case roleAll, roleAPI, roleWorker:
	default:
		fmt.Fprintf(os.Stderr, "openrender serve: --role %q: want api, worker or all\n", f.role)
		return exitUsage
	}
	if err := runServer(f, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "openrender serve:", err)
		return exitError
	}
	return exitOK
}

func runServer(f serveFlags, out io.Writer) error {
	log, err := newLogger(f.logLevel)
	if err != nil {
		return err
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()

	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := openStore(ctx, f.databaseURL, dataDir)
	if err != nil {
		return err
	}
	defer st.Close()

	q, queueName, err := openQueue(ctx, f.queueURL, st)
	if err != nil {
		return err
	}
	if q != nil {
		defer q.Close()
	}
	if f.role == roleAPI && q == nil {
		log.Warn("--role api with the in-process queue: no worker hears of new commands until its recovery sweep finds them in the store; use a shared --queue-url")
	}

	// Keys first: a bad --api-key should stop the start, not half of it.
	if err := addKeys(ctx, st, f.apiKeys); err != nil {
		return err
	}

	var ln net.Listener
	publicURL := f.publicURL
	if f.role != roleWorker {
		if ln, err = net.Listen("tcp", f.addr); err != nil {
			return err
		}
		defer ln.Close()
		if publicURL == "" {
			publicURL = defaultPublicURL(ln.Addr().(*net.TCPAddr))
		}
	} else if publicURL == "" {
		publicURL = "http://" + f.addr // links name the API nodes, which serve them
	}

	key, err := loadSigningKey(f.signingKey, dataDir)
	if err != nil {
		return err
	}
	signer, err := storage.NewLinkSigner(key)
	if err != nil {
		return err
	}
	storageURL := f.storageURL
	if storageURL == "" {
		storageURL = "file://" + filepath.ToSlash(filepath.Join(dataDir, "files"))
	}
	bucket, err := blobstore.Open(ctx, storageURL, blobstore.Options{PublicURL: publicURL, Signer: signer})
	if err != nil {
		return err
	}
	defer bucket.Close()

	// With Postgres, processes tell each other of command changes (a
	// cancel, progress for a live event stream) by NOTIFY, at once, instead
	// of each reading the store every engine.WatchInterval.
	var changes engine.CommandSignal
	if pg, ok := st.(*postgres.Store); ok {
		changes = pg.Signal()
	}
	eng, err := engine.New(engine.Config{
		Signal:               changes,
		Store:                st,
		Storage:              bucket,
		Queue:                q,
		WorkDir:              filepath.Join(dataDir, "work"),
		NodeID:               f.nodeID,
		Workers:              f.workers,
		LeaseDuration:        f.leaseDuration,
		DefaultRunTimeout:    f.commandTimeout,
		MaxRunTimeout:        f.maxCommandTimeout,
		MaxInputBytes:        f.maxInputBytes,
		MaxOutputBytes:       f.maxOutputBytes,
		DownloadTimeout:      f.downloadTimeout,
		AllowPrivateURLs:     f.allowPrivateURLs,
		StorageURLTTL:        f.storageURLTTL,
		UnsafeNoSandbox:      f.unsafeNoSandbox,
		SandboxReadOnlyPaths: f.sandboxReadOnlyPaths,
		MaxMemoryBytes:       f.maxMemoryBytes,
		MaxProcesses:         f.maxProcesses,
		MaxPixels:            f.maxPixels,
		MaxRunningPerAccount: f.maxRunningPerAccount,
		WebhookSchedule:      notify.RetrySchedule(f.webhookSchedule),
		WebhookTimeout:       f.webhookTimeout,
		WebhookDisableAfter:  f.webhookDisableAfter,
		MaxUploadBytes:       f.maxUploadBytes,
		Retention:            f.retention,
		Logger:               log,
	})
	if err != nil {
		return err
	}
	if f.role != roleAPI {
		if err := eng.Start(ctx); err != nil {
			return err
		}
	}
	if f.role == roleWorker {
		printBanner(out, "", publicURL, dataDir, storageURL, queueName, f, eng, "")
		<-ctx.Done()
		stopSignals() // a second signal now kills the process at once
		log.Info("shutting down: running commands may finish", "grace", f.shutdownGrace)
		graceCtx, cancel := context.WithTimeout(context.Background(), f.shutdownGrace)
		defer cancel()
		return eng.Stop(graceCtx)
	}
	// A first key is made only now that nothing else can fail: a key made
	// by a start that then failed (port in use, no ffmpeg) would never be
	// shown, and the next start, finding a key, would make none.
	var createdKey string
	if len(f.apiKeys) == 0 {
		if createdKey, err = createFirstKey(ctx, st); err != nil {
			eng.Stop(context.Background())
			return err
		}
	}

	srv := &http.Server{
		Handler: httpapi.New(eng, httpapi.Config{
			MaxBodyBytes: f.maxBodyBytes, Logger: log,
			RateLimitPerMinute: f.rateLimitPerMinute, RateLimitBurst: f.rateLimitBurst,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	printBanner(out, ln.Addr().String(), publicURL, dataDir, storageURL, queueName, f, eng, createdKey)

	select {
	case err := <-serveErr:
		eng.Stop(context.Background())
		return err
	case <-ctx.Done():
	}
	stopSignals() // a second signal now kills the process at once
	log.Info("shutting down: no new requests; running commands may finish", "grace", f.shutdownGrace)
	printShutdown(out, f.shutdownGrace, eng.Running())
	graceCtx, cancel := context.WithTimeout(context.Background(), f.shutdownGrace)
	defer cancel()
	// Both at once: workers stop taking commands the moment the signal
	// arrives, however long a slow client keeps the HTTP server draining.
	drained := make(chan struct{})
	go func() {
		srv.Shutdown(graceCtx)
		close(drained)
	}()
	err = eng.Stop(graceCtx)
	<-drained
	srv.Close() // whatever outlived the grace period
	fmt.Fprintln(out, "OpenRender stopped.")
	return err
}

func openStore(ctx context.Context, databaseURL, dataDir string) (store.Store, error) {
	if databaseURL == "" {
		databaseURL = "sqlite://" + filepath.ToSlash(filepath.Join(dataDir, "openrender.db"))
	}
	st, err := store.Open(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	return st, nil
}

// openQueue opens the --queue-url queue. A nil queue means the engine's
// default, in-process one. The name says which it is, for the banner
// (a URL already redacted).
func openQueue(ctx context.Context, queueURL string, st store.Store) (queue.Queue, string, error) {
	pg, isPostgres := st.(*postgres.Store)
	switch {
	case queueURL == "" && isPostgres, queueURL == "postgres":
		if !isPostgres {
			return nil, "", errors.New("--queue-url postgres needs a postgres:// --database-url")
		}
		return pg.Queue(postgres.QueueOptions{}), "postgres (the state store's database)", nil
	case queueURL == "", queueURL == "memory":
		return nil, "memory (in this process)", nil
	}
	q, err := queue.Open(ctx, queueURL)
	if err != nil {
		return nil, "", fmt.Errorf("--queue-url: %w", err)
	}
	return q, redactURL(queueURL), nil
}

// addKeys adds the --api-key keys to the default account.
func addKeys(ctx context.Context, st store.Store, keys []string) error {
	for _, k := range keys {
		if _, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, k, time.Now()); err != nil {
			return fmt.Errorf("--api-key: %w", err)
		}
	}
	return nil
}

// createFirstKey, when no key is stored at all, creates one for the default
// account and returns it so it can be shown once.
func createFirstKey(ctx context.Context, st store.Store) (created string, err error) {
	n, err := st.CountAPIKeys(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	created = engine.NewAPIKey()
	if _, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, created, time.Now()); err != nil {
		return "", err
	}
	return created, nil
}

// loadSigningKey returns the link signing key: the flag's value, or the
// key file in the data dir, created with a random key on first start.
func loadSigningKey(flagValue, dataDir string) ([]byte, error) {
	if flagValue != "" {
		if len(flagValue) < 32 {
			return nil, errors.New("--signing-key must be at least 32 characters")
		}
		return []byte(flagValue), nil
	}
	path := filepath.Join(dataDir, "signing.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("%s is not a hex key of 32 bytes or more; remove it to make a new one (old links stop working)", path)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	// O_EXCL: if another process created the file first, use its key.
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadSigningKey("", dataDir)
	}
	if err != nil {
		return nil, err
	}
	_, err = fh.WriteString(hex.EncodeToString(key) + "\n")
	if err := errors.Join(err, fh.Sync(), fh.Close()); err != nil {
		return nil, err
	}
	return key, nil
}

func defaultPublicURL(addr *net.TCPAddr) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// printBanner prints, once the server runs, one short block that says
// where it listens, where it keeps its data, and how ffmpeg is confined.
func printBanner(out io.Writer, addr, publicURL, dataDir, storageURL, queueName string, f serveFlags, eng *engine.Engine, createdKey string) {
	cfg := eng.Config()
	database := f.databaseURL
	if database == "" {
		database = "sqlite://" + filepath.Join(dataDir, "openrender.db")
	}
	if addr != "" {
		fmt.Fprintf(out, "OpenRender %s listening on http://%s (role %s)\n", version, addr, f.role)
		fmt.Fprintf(out, "  API:       http://%s/api/v1  (OpenAPI: /api/v1/openapi.json; /healthz /readyz /metrics)\n", addr)
	} else {
		fmt.Fprintf(out, "OpenRender %s running (role %s, no HTTP)\n", version, f.role)
	}
	fmt.Fprintf(out, "  database:  %s\n", redactURL(database))
	fmt.Fprintf(out, "  storage:   %s (links: %s)\n", redactURL(storageURL), publicURL)
	fmt.Fprintf(out, "  queue:     %s\n", queueName)
	fmt.Fprintf(out, "  work dir:  %s\n", cfg.WorkDir)
	if f.role == roleAPI {
		fmt.Fprintf(out, "  workers:   none (node %s)\n", cfg.NodeID)
	} else {
		fmt.Fprintf(out, "  workers:   %d (node %s)\n", cfg.Workers, cfg.NodeID)
	}
	if f.allowPrivateURLs {
		fmt.Fprintf(out, "  private URLs: allowed (--allow-private-urls)\n")
	}
	// Last line of the block (tests wait for it): how ffmpeg is confined.
	fmt.Fprintf(out, "  ffmpeg:    %s, %s\n", cfg.FFmpegPath, eng.SandboxState())
	if createdKey != "" {
		fmt.Fprintf(out, "\nCreated an API key for account %q. It is shown only this once:\n\n  %s\n\n", engine.DefaultAccount, createdKey)
		fmt.Fprintf(out, "Try: curl -H 'X-API-KEY: %s' http://%s/api/v1/commands?limit=1\n", createdKey, addr)
	}
}

// printShutdown says what shutting down will do, in the same short style.
func printShutdown(out io.Writer, grace time.Duration, running int) {
	fmt.Fprintf(out, "OpenRender shutting down: no new requests or commands; %d running command(s) may finish within %s, then are released for the next start.\n",
		running, grace)
}

// redactURL hides the secrets of a URL shown to people: the password of
// its user info, and query parameters whose name says secret (libpq's
// password=, a cloud SDK's secret_access_key= or sas_token=). A URL that
// does not parse is not shown at all, since where its secret sits is
// unknown.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not shown: not a valid URL)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "(not shown)"
		} else {
			for name := range q {
				if secretParam(name) {
					q[name] = []string{"xxxxx"}
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// secretParam tells whether a URL query parameter's name says it holds a
// secret.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, word := range []string{"password", "passwd", "secret", "token", "key", "credential", "signature", "sig"} {
		if strings.Contains(n, word) {
			return true
		}
	}
	return false
}
