package pubsubqueue

import (
	"context"
	"errors"
)

// DropConnection closes q's current AMQP connections under it, as a broker
// restart would, without telling q.
func DropConnection(q *Queue) {
	q.mu.Lock()
	c := q.cur
	q.mu.Unlock()
	if c != nil {
		c.release()
	}
}

// FailDials makes every later re-dial of q fail, as while the broker is down.
func FailDials(q *Queue) {
	q.dial = func(context.Context) (*conn, error) { return nil, errors.New("test: broker down") }
}
