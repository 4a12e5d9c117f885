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

// WaitForCommand polls a command until it is SUCCESS or FAILED and returns
// it; a FAILED command is returned with a nil error (its Err method says
// why it failed). The first poll is immediate, then the wait between polls
// starts at one second (the contract asks for no more than one poll per
// second) and grows by half each time up to a cap (see WithPollInterval).
// Rate limiting (429) and a busy or restarting server (502, 503, 504) are
// waited out; any other error ends the wait. It returns ctx's error when
// ctx ends first.
func (c *Client) WaitForCommand(ctx context.Context, id string, opts ...WaitOption) (*Command, error) {
	var cfg waitConfig
	for _, o := range opts {
		o(&cfg)
	}
	var cmd *Command
	err := c.poll(ctx, func() (bool, error) {
		got, err := c.GetCommand(ctx, id)
		if err != nil {
			return false, err
		}
		cmd = got
		if cfg.onUpdate != nil {
			cfg.onUpdate(got)
		}
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
