// Package natsqueue is a queue.Queue on a NATS JetStream work-queue stream,
// on github.com/nats-io/nats.go. Importing it registers the "nats" scheme
// with queue.Open:
//
//	import _ "github.com/openrender/openrender/queue/natsqueue"
//	q, err := queue.Open(ctx, "nats://127.0.0.1:4222/openrender")
//
// The URL's path names the stream (default "openrender"); its subject is
// <stream>.commands, and every engine process pulls from one durable
// consumer, <stream>-workers, so each message goes to one worker. Stream
// and consumer are created if missing. User and password in the URL are
// used to connect.
//
// (gocloud.dev/pubsub's NATS driver, natspubsub, is a module of its own that
// this build can't get; RabbitMQ goes through gocloud.dev/pubsub, see
// queue/pubsubqueue.)
//
// Messages carry only command ids; the state store decides who runs a
// command, so a message delivered twice runs nothing twice, and one lost
// (acknowledged by a worker that then died) is pushed again by the
// engine's recovery sweep.
package natsqueue

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openrender/openrender/queue"
)

func init() {
	queue.Register("nats", func(ctx context.Context, u *url.URL) (queue.Queue, error) {
		return Open(ctx, u.String())
	})
}

// DefaultStream names the stream when the URL has no path.
const DefaultStream = "openrender"

// Queue is the JetStream queue.
type Queue struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	cons    jetstream.Consumer
	subject string

	closed    chan struct{}
	closeOnce sync.Once
	ctx       context.Context // cancelled by Close: ends every Pop
	cancel    context.CancelFunc
}

var _ queue.Queue = (*Queue)(nil)

// Open connects to the server the URL names and creates the stream and
// consumer if they are missing.
func Open(ctx context.Context, rawURL string) (*Queue, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("natsqueue: %w", err)
	}
	stream := strings.Trim(u.Path, "/")
	if stream == "" {
		stream = DefaultStream
	}
	if strings.ContainsAny(stream, "./*> ") {
		return nil, fmt.Errorf("natsqueue: stream name %q may not contain '.', '/', '*', '>' or spaces", stream)
	}
	server := &url.URL{Scheme: "nats", User: u.User, Host: u.Host}
	nc, err := nats.Connect(server.String(), nats.Name("openrender"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("natsqueue: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsqueue: %w", err)
	}
	subject := stream + ".commands"
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      stream,
		Subjects:  []string{subject},
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
	}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsqueue: stream %s: %w", stream, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:   stream + "-workers",
		AckPolicy: jetstream.AckExplicitPolicy,
		// A message fetched by a Pop that gave up comes back after this.
		AckWait: 30 * time.Second,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsqueue: consumer: %w", err)
	}
	qctx, cancel := context.WithCancel(context.Background())
	return &Queue{nc: nc, js: js, cons: cons, subject: subject, closed: make(chan struct{}), ctx: qctx, cancel: cancel}, nil
}

// Push implements queue.Queue: it returns once the stream has stored the id.
func (q *Queue) Push(ctx context.Context, id string) error {
	if q.isClosed() {
		return queue.ErrClosed
	}
	_, err := q.js.Publish(ctx, q.subject, []byte(id))
	return err
}

// longPoll bounds one pull request; a Pop waiting longer makes another.
// The server answers a pull as soon as a message arrives: this is not a
// polling interval.
const longPoll = 30 * time.Second

// Pop implements queue.Queue. The message is acknowledged before its id
// is returned: from then on the store, not the broker, keeps the command.
func (q *Queue) Pop(ctx context.Context) (string, error) {
	ctx, stop := mergeCancel(ctx, q.ctx)
	defer stop()
	for {
		if q.isClosed() {
			return "", queue.ErrClosed
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		fetchCtx, cancel := context.WithTimeout(ctx, longPoll)
		msg, err := q.cons.Next(jetstream.FetchContext(fetchCtx))
		cancel()
		switch {
		case err == nil:
			if err := msg.Ack(); err != nil {
				// Not acknowledged: it comes back after AckWait. The id
				// is still worth trying now.
				_ = err
			}
			return string(msg.Data()), nil
		case q.isClosed():
			return "", queue.ErrClosed
		case ctx.Err() != nil:
			return "", ctx.Err()
		case deadlinePassed(ctx):
			// The deadline passed but ctx's timer has not marked it yet;
			// JetStream refuses a fetch whose deadline is already past
			// with an error of its own.
			return "", context.DeadlineExceeded
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), deadlinePassed(fetchCtx):
			continue // the long poll ended empty
		default:
			return "", err
		}
	}
}

// deadlinePassed tells whether ctx has a deadline that is now past, which
// can be true a moment before ctx.Err() says so.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func (q *Queue) isClosed() bool {
	select {
	case <-q.closed:
		return true
	default:
		return false
	}
}

// Close implements queue.Queue. It leaves the stream and its messages.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		close(q.closed)
		q.cancel()
		q.nc.Close()
	})
	return nil
}

// DeleteStream removes the stream a queue URL names, and every message in
// it, on a connection of its own (tests clean up with it).
func DeleteStream(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	nc, err := nats.Connect((&url.URL{Scheme: "nats", User: u.User, Host: u.Host}).String())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return js.DeleteStream(ctx, strings.Trim(u.Path, "/"))
}

// mergeCancel returns a context done when a or b is.
func mergeCancel(a, b context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}
