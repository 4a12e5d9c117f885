package postgres

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Signal carries "this command changed" between the engine processes that
// share this database, with LISTEN/NOTIFY: it implements
// engine.CommandSignal (without importing the engine), so that a cancel
// made through one process stops ffmpeg on another at once, and a live
// event stream on one process sees progress made on another without
// waiting for its next store read. Notifications are hints: one lost while
// a listener reconnects only delays a watcher until its next store read.
type Signal struct {
	s *Store
}

// Signal returns the store's command-change signal, for engine.Config.Signal.
func (s *Store) Signal() *Signal { return &Signal{s: s} }

// signalChannel is the NOTIFY channel of command changes. Channels are
// database-wide, so the name includes a hash of the schema, as the
// queue's does.
func (s *Store) signalChannel() string {
	h := fnv.New32a()
	h.Write([]byte(s.schema))
	return "openrender_changed_" + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// Publish announces that the command changed.
func (g *Signal) Publish(ctx context.Context, commandID string) error {
	_, err := g.s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", g.s.signalChannel(), commandID)
	return err
}

// Subscribe calls fn with the id of every command any process publishes,
// on a connection of its own, until ctx ends (nil) or the connection fails
// (the error; the engine subscribes again).
func (g *Signal) Subscribe(ctx context.Context, fn func(commandID string)) error {
	conn, err := g.s.connectListener(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{g.s.signalChannel()}.Sanitize()); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil
			}
			return err
		}
		fn(n.Payload)
	}
}
