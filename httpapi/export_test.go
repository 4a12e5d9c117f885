package httpapi

import "time"

// SetSSEKeepAlive sets the event streams' keep-alive period for a test;
// the returned func restores it.
func SetSSEKeepAlive(d time.Duration) (restore func()) {
	old := sseKeepAlive
	sseKeepAlive = d
	return func() { sseKeepAlive = old }
}
