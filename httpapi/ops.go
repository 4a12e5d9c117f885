package httpapi

import (
	"context"
	_ "embed"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// openAPIDocument is the OpenAPI 3.1 description of every route; a test
// checks it against the route table (routeMux) and validates it.
//
//go:embed openapi.json
var openAPIDocument []byte

// readyTimeout bounds the readiness checks.
const readyTimeout = 5 * time.Second

// opsRoutes are for operators and tools, not for accounts: no API key.
func (h *handler) opsRoutes() {
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(h.registry, promhttp.HandlerOpts{ErrorLog: nil}))
	h.mux.HandleFunc("GET /api/v1/openapi.json", h.openAPI)
}

// GET /healthz: the process is alive and serving HTTP. It checks nothing
// else, so that a slow store does not get a live process restarted.
func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// GET /readyz: 200 when the store and the storage answer and the sandbox
// is in use (or this process runs no workers), else 503; the body says
// which check failed.
func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	ok, checks := h.eng.Ready(ctx)
	status, word := http.StatusOK, "ready"
	if !ok {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": checks})
}

// GET /api/v1/openapi.json
func (h *handler) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.Write(openAPIDocument)
}

// httpMetrics count the handler's requests by route pattern (never the raw
// path, whose ids would make a series per request) and status code.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openrender_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "openrender_http_request_seconds",
			Help:    "Time to answer HTTP requests (event streams: their whole life), by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
}

// newRegistry returns the registry GET /metrics serves: the engine's
// metrics, the handler's, and the Go runtime's and process's. It is the
// handler's own (Config.MetricsRegistry, or a new one), never
// prometheus.DefaultRegisterer, so an embedding application's metrics
// can't collide with these.
func newRegistry(cfg Config, collectorsToAdd ...prometheus.Collector) *prometheus.Registry {
	reg := cfg.MetricsRegistry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	reg.MustRegister(collectorsToAdd...)
	return reg
}

// metricMethod is the method label of a request: one of the methods of
// RFC 9110 (and PATCH), or OTHER, since a client may send any token as a
// method and each label value is a time series kept for good.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusRecorder notes the status code an answer had.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController flush event streams and set deadlines.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) code() string {
	if w.status == 0 {
		return "200"
	}
	return strconv.Itoa(w.status)
}
