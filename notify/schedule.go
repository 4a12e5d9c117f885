package notify

import (
	"math/rand/v2"
	"time"
)

// DefaultRetrySchedule is when webhook attempts happen, counted from the
// failure of the previous one (the first from the event): at once, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later. Eight attempts in all span
// about 28 hours.
var DefaultRetrySchedule = RetrySchedule{
	0,
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
}

// DefaultJitter is the fraction by which each retry delay is randomly
// lengthened or shortened, so that receivers that failed together (one
// outage) are not all retried in the same instant.
const DefaultJitter = 0.1

// RetrySchedule lists the delay before each attempt: element i is the wait
// before attempt i+1. Its length is the number of attempts.
type RetrySchedule []time.Duration

// Attempts is how many attempts the schedule allows.
func (s RetrySchedule) Attempts() int { return len(s) }

// Delay returns the wait before attempt n (from 1), with jitter applied as
// a fraction of it, and false when the schedule has no attempt n.
func (s RetrySchedule) Delay(n int, jitter float64) (time.Duration, bool) {
	if n < 1 || n > len(s) {
		return 0, false
	}
	d := s[n-1]
	if jitter > 0 && d > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * jitter * float64(d))
	}
	return d, true
}
