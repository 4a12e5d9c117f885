package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openrender/openrender/store"
)

// metrics are the engine's Prometheus metrics. They belong to the engine,
// not to a global registry, so an application embedding several engines
// (or its own metrics) has no name collisions; register Engine.Collector
// in the registry you serve (httpapi does, for GET /metrics).
type metrics struct {
	e               *Engine
	ffmpegSeconds   prometheus.Histogram
	finished        *prometheus.CounterVec
	webhookAttempts *prometheus.CounterVec
	commands        *prometheus.Desc
	queueDepth      *prometheus.Desc
	running         *prometheus.Desc
}

func newMetrics(e *Engine) *metrics {
	m := &metrics{
		e: e,
		ffmpegSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "openrender_ffmpeg_seconds",
			Help:    "Wall-clock seconds ffmpeg ran per finished command (all steps), on this process.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openrender_commands_finished_total",
			Help: "Commands this process finished, by final status and error_status.",
		}, []string{"status", "error_status"}),
		webhookAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openrender_webhook_attempts_total",
			Help: "Webhook delivery attempts this process made, by outcome: success, retry (failed, another attempt scheduled) or failed (no attempts left).",
		}, []string{"outcome"}),
		commands: prometheus.NewDesc("openrender_commands",
			"Unfinished commands in the store (every process), by status.", []string{"status"}, nil),
		queueDepth: prometheus.NewDesc("openrender_queue_depth",
			"Commands waiting for a worker: QUEUED in the store (every process).", nil, nil),
		running: prometheus.NewDesc("openrender_commands_running",
			"Commands running on this process.", nil, nil),
	}
	// Every outcome shows from the start, at 0, so rates work at once.
	for _, o := range []string{"success", "retry", "failed"} {
		m.webhookAttempts.WithLabelValues(o)
	}
	return m
}

// Collector returns the engine's metrics as one prometheus.Collector:
// commands by status and queue depth (read from the store when collected),
// commands running here, commands finished here, ffmpeg seconds, and
// webhook attempts by outcome. Names start with openrender_.
func (e *Engine) Collector() prometheus.Collector { return e.metrics }

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.ffmpegSeconds.Describe(ch)
	m.finished.Describe(ch)
	m.webhookAttempts.Describe(ch)
	ch <- m.commands
	ch <- m.queueDepth
	ch <- m.running
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.ffmpegSeconds.Collect(ch)
	m.finished.Collect(ch)
	m.webhookAttempts.Collect(ch)
	ch <- prometheus.MustNewConstMetric(m.running, prometheus.GaugeValue, float64(m.e.runningCount()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	queued, processing, err := m.e.cfg.Store.CountUnfinishedCommands(ctx)
	if err != nil {
		m.e.log.Warn("metrics: could not count commands", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.commands, prometheus.GaugeValue, float64(queued), string(store.StatusQueued))
	ch <- prometheus.MustNewConstMetric(m.commands, prometheus.GaugeValue, float64(processing), string(store.StatusProcessing))
	ch <- prometheus.MustNewConstMetric(m.queueDepth, prometheus.GaugeValue, float64(queued))
}

func (m *metrics) finishedCommand(o store.Outcome) {
	m.finished.WithLabelValues(string(o.Status), o.ErrorStatus).Inc()
}

func (m *metrics) ranFFmpeg(d time.Duration) {
	if d > 0 {
		m.ffmpegSeconds.Observe(d.Seconds())
	}
}

// webhookResult counts one attempt (notify.SenderConfig.OnResult).
func (m *metrics) webhookResult(r store.WebhookResult) {
	outcome := "success"
	switch {
	case r.Success:
	case !r.NextAttemptAt.IsZero():
		outcome = "retry"
	default:
		outcome = "failed"
	}
	m.webhookAttempts.WithLabelValues(outcome).Inc()
}
