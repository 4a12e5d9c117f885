package client

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// WaitOption adjusts one WaitForCommand call.
type WaitOption func(*waitConfig)

type waitConfig struct {
	onUpdate func(*Command)
}

// OnUpdate calls fn with every command object WaitForCommand reads,
// the final one included, from the calling goroutine: a progress bar
// reads Status and Progress from it.
func OnUpdate(fn func(*Command)) WaitOption {
	return func(w *waitConfig) { w.onUpdate = fn }
}

// WaitForCommand waits until a command is SUCCESS or FAILED and returns
// it; a FAILED command is returned with a nil error (its Err method says
// why it failed). It returns ctx's error when ctx ends first.
//
// It follows the server's event stream, GET /api/v1/commands/{id}/events
// (an OpenRender extension), so it learns of every change of status and
// progress at once without polling. When the server has no such stream
// (a RenderIO-compatible server, a proxy that refuses it) or the stream
// breaks before the end, it polls GET /api/v1/commands/{id} instead: the
// first poll at once, then waits that start at one second (the contract
// asks for no more than one poll per second) and grow by half each time up
// to a cap (see WithPollInterval). While polling, rate limiting (429) and
// a busy or restarting server (502, 503, 504) are waited out; any other
// error ends the wait.
func (c *Client) WaitForCommand(ctx context.Context, id string, opts ...WaitOption) (*Command, error) {
	var cfg waitConfig
	for _, o := range opts {
		o(&cfg)
	}
	update := func(cmd *Command) {
		if cfg.onUpdate != nil {
			cfg.onUpdate(cmd)
		}
	}
	if !c.noEvents {
		cmd, err := c.followEvents(ctx, id, update)
		if cmd != nil || err != nil {
			return cmd, err
		}
	}
	var cmd *Command
	err := c.poll(ctx, func() (bool, error) {
		got, err := c.GetCommand(ctx, id)
		if err != nil {
			return false, err
		}
		cmd = got
		update(got)
		return got.Done(), nil
	})
	if err != nil {
		return nil, err
	}
	return cmd, nil
}

// poll calls check until it reports done or fails, backing off between
// calls from c.pollInterval to c.maxPoll.
func (c *Client) poll(ctx context.Context, check func() (done bool, err error)) error {
	delay := c.pollInterval
	for {
		done, err := check()
		wait := delay
		if err != nil {
			retryAfter, transient := transientWait(err)
			if !transient || ctx.Err() != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			wait = max(wait, retryAfter)
		} else if done {
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		delay = min(delay+delay/2, c.maxPoll)
	}
}

// transientWait reports whether err is worth polling through, and how long
// the server asked to wait.
func transientWait(err error) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return 0, false
	}
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return e.RetryAfter, true
	}
	return 0, false
}
