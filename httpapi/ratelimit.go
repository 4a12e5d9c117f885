package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/openrender/openrender/api"
)

// Defaults for the per-account rate limit on POST endpoints.
const (
	// DefaultRateLimitPerMinute is how many POST requests an account may
	// make per minute, sustained.
	DefaultRateLimitPerMinute = 600
	// DefaultRateLimitBurst is how many POST requests an account may make
	// at once, on top of nothing: the bucket's size.
	DefaultRateLimitBurst = 120
)

// maxIdleBuckets bounds the limiter's memory: past it, buckets that have
// refilled (accounts idle long enough to be back at a full burst) are
// dropped, which changes nothing for them.
const maxIdleBuckets = 10000

// rateLimiter is a token bucket per account. It is per process: several
// engine processes behind a load balancer each allow the full rate, so the
// effective limit is that many times higher. (A shared limit would need a
// store round trip on every request; the per-account cap on running
// commands, which does hold across processes, is what protects the
// workers.)
type rateLimiter struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(perMinute, burst int, now func() time.Time) *rateLimiter {
	if perMinute <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = 1
	}
	return &rateLimiter{perSecond: float64(perMinute) / 60, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for the account, or says how long until one is there.
func (l *rateLimiter) allow(account string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[account]
	if b == nil {
		if len(l.buckets) >= maxIdleBuckets {
			l.dropFull(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[account] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.perSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
}

func (l *rateLimiter) dropFull(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// rateLimited answers 429 with Retry-After (whole seconds, rounded up) when
// the account is over its rate; it reports whether it did.
func (h *handler) rateLimited(w http.ResponseWriter, account string) bool {
	if h.limiter == nil {
		return false
	}
	ok, wait := h.limiter.allow(account)
	if ok {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, api.CodeRateLimited,
		"Too many requests from this account; retry after "+strconv.Itoa(secs)+" s.", nil)
	return true
}
