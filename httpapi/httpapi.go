package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/storage"
)

// DefaultMaxBodyBytes caps JSON request bodies.
const DefaultMaxBodyBytes = 1 << 20

// Config configures the handler. Every field has a default.
type Config struct {
	// MaxBodyBytes caps request bodies; larger ones get 413. Default:
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// LinkSigner checks the signed storage links of local buckets. Default:
	// the engine storage's own signer, when it has one (blobstore.Bucket
	// over file:// or mem://). With neither, /storage/ is not served.
	LinkSigner *storage.LinkSigner
	// Logger receives request errors. Default: the engine's logger.
	Logger *slog.Logger
	// RateLimitPerMinute is how many POST requests each account may make
	// per minute; past it they get 429 RATE_LIMITED with Retry-After. The
	// limit is per process. Default: DefaultRateLimitPerMinute; negative:
	// no limit.
	RateLimitPerMinute int
	// RateLimitBurst is how many POST requests an account may make in a
	// burst. Default: DefaultRateLimitBurst.
	RateLimitBurst int
	// Now is the rate limiter's clock. Default: time.Now.
	Now func() time.Time
	// MetricsRegistry is where GET /metrics gathers from; the handler
	// registers the engine's and its own collectors in it. Default: a new
	// registry of the handler's own, with the Go runtime and process
	// collectors (never the global prometheus.DefaultRegisterer).
	MetricsRegistry *prometheus.Registry
}

type handler struct {
	eng   *engine.Engine
	cfg   Config
	log   *slog.Logger
	mux   *routeMux
	links *storage.LinkSigner
	// limiter is nil when rate limiting is off.
	limiter *rateLimiter
	// idemDone wakes requests waiting for another request with the same
	// Idempotency-Key to answer.
	idemDone signals
	metrics  *httpMetrics
	registry *prometheus.Registry
}

// New returns the handler for every endpoint of the contract that the engine
// supports.
func New(eng *engine.Engine, cfg Config) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RateLimitPerMinute == 0 {
		cfg.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if cfg.RateLimitBurst <= 0 {
		cfg.RateLimitBurst = DefaultRateLimitBurst
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{eng: eng, cfg: cfg, log: cfg.Logger, mux: newRouteMux(), links: cfg.LinkSigner,
		limiter: newRateLimiter(cfg.RateLimitPerMinute, cfg.RateLimitBurst, cfg.Now)}
	if h.log == nil {
		h.log = eng.Config().Logger
	}
	h.metrics = newHTTPMetrics()
	h.registry = newRegistry(cfg, eng.Collector(), h.metrics.requests, h.metrics.duration)
	if h.links == nil {
		if s, ok := eng.Config().Storage.(interface{ LinkSigner() *storage.LinkSigner }); ok {
			h.links = s.LinkSigner()
		}
	}

	h.mux.Handle("POST /api/v1/run-ffmpeg-command", h.authed(h.runCommand))
	h.mux.Handle("POST /api/v1/validate-ffmpeg-command", h.authed(h.validateCommand))
	h.mux.Handle("POST /api/v1/run-chained-ffmpeg-commands", h.authed(h.runChained))
	h.mux.Handle("POST /api/v1/run-multiple-ffmpeg-commands", h.authed(h.runMultiple))
	h.presetRoutes()
	h.mux.Handle("GET /api/v1/commands/{id}", h.authed(h.getCommand))
	h.mux.Handle("GET /api/v1/commands", h.authed(h.listCommands))
	h.mux.Handle("PUT /api/v1/webhook-config", h.authed(h.putWebhookConfig))
	h.mux.Handle("GET /api/v1/webhook-config", h.authed(h.getWebhookConfig))
	h.mux.Handle("DELETE /api/v1/webhook-config", h.authed(h.deleteWebhookConfig))
	h.mux.Handle("GET /api/v1/webhook-deliveries", h.authed(h.listWebhookDeliveries))
	h.mux.Handle("POST /api/v1/webhook-deliveries/{id}/redeliver", h.authed(h.redeliver))
	h.fileRoutes()
	h.controlRoutes()
	h.opsRoutes()
	if h.links != nil {
		h.mux.HandleFunc("GET "+storage.LinkPrefix+"{key...}", h.serveLink)
		h.mux.HandleFunc("GET "+storage.DirLinkPrefix+"{expires}/{signature}/{key...}", h.serveDirLink)
	}
	return h
}

// ServeHTTP routes the request, answering unknown paths and methods with
// the contract's JSON error body rather than net/http's plain text.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusRecorder{ResponseWriter: w}
	w = sw
	_, pattern := h.mux.Handler(r)
	route := "unmatched"
	if pattern != "" {
		route = pattern
		if _, path, ok := strings.Cut(pattern, " "); ok {
			route = path
		}
	}
	method := metricMethod(r.Method)
	defer func() {
		h.metrics.requests.WithLabelValues(method, route, sw.code()).Inc()
		h.metrics.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, api.CodeInternalError, "The server hit an internal error; it was logged.", nil)
		}
	}()
	if pattern == "" {
		h.mux.ServeHTTP(&errorBodyWriter{ResponseWriter: w}, r)
		return
	}
	if r.Method == http.MethodPost && r.Header.Get(IdempotencyKeyHeader) != "" {
		h.idempotent(w, r, h.mux)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// errorBodyWriter replaces the plain-text bodies that net/http writes for
// its own errors (ServeMux's 404 and 405, ServeContent's 412 and 416) with
// the contract's JSON error body, keeping the headers they set (Allow,
// Content-Range).
type errorBodyWriter struct {
	http.ResponseWriter
	status int
}

func (w *errorBodyWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	h := w.Header()
	h.Del("X-Content-Type-Options")
	h.Del("Content-Length")
	code, msg := api.CodeInvalidRequest, http.StatusText(status)+"."
	switch status {
	case http.StatusNotFound:
		code, msg = api.CodeNotFound, "There is no such endpoint."
	case http.StatusMethodNotAllowed:
		code, msg = api.CodeMethodNotAllowed, "This path does not answer that HTTP method."
	case http.StatusRequestedRangeNotSatisfiable:
		msg = "The requested range is outside the file."
	case http.StatusPreconditionFailed:
		msg = "The file does not match the request's preconditions."
	}
	writeError(w.ResponseWriter, status, code, msg, nil)
}

func (w *errorBodyWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status >= 400 {
		return len(b), nil // net/http's own body is replaced
	}
	return w.ResponseWriter.Write(b)
}

// secondsUntil is a Cache-Control max-age for a link that expires at t.
func secondsUntil(t time.Time) int {
	s := int(time.Until(t).Seconds())
	if s < 0 {
		return 0
	}
	return s
}
