// Package pubsubqueue is a queue.Queue over gocloud.dev/pubsub: a topic that
// Push sends command ids to, and a subscription that Pop receives them
// from. Importing it registers the "rabbit" scheme with queue.Open:
//
//	import _ "github.com/openrender/openrender/queue/pubsubqueue"
//	q, err := queue.Open(ctx, "rabbit://openrender")
//
// A rabbit:// URL names a RabbitMQ fanout exchange and a durable queue bound
// to it, both called by the URL's host and path, and created if missing.
// The server is the URL's ?server= parameter (an amqp:// URL), or else the
// environment variable RABBIT_SERVER_URL, as in gocloud.dev's rabbitpubsub.
// Every engine process consumes from the one queue, so each message reaches
// one worker.
//
// New wraps any other gocloud.dev/pubsub topic and subscription.
//
// Messages carry only command ids; the state store decides who runs a
// command, so a message delivered twice runs nothing twice, and one lost
// (acknowledged by a worker that then died) is pushed again by the
// engine's recovery sweep.
package pubsubqueue

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/rabbitpubsub"

	"github.com/openrender/openrender/queue"
)

func init() {
	queue.Register("rabbit", func(ctx context.Context, u *url.URL) (queue.Queue, error) {
		return OpenRabbit(ctx, u.String())
	})
}

// Queue is a queue over a pubsub topic and subscription.
type Queue struct {
	topic   *pubsub.Topic
	sub     *pubsub.Subscription
	onClose func() error

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	ctx       context.Context // cancelled by Close: ends every Pop
	cancel    context.CancelFunc
}

var _ queue.Queue = (*Queue)(nil)

// New returns a queue that sends to topic and receives from sub, which
// must receive what is sent to topic. Close shuts both down, then calls
// onClose (if not nil) to release what they were opened on.
func New(topic *pubsub.Topic, sub *pubsub.Subscription, onClose func() error) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	return &Queue{topic: topic, sub: sub, onClose: onClose, closed: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// OpenRabbit opens the queue a rabbit:// URL names (see the package doc).
func OpenRabbit(ctx context.Context, rawURL string) (*Queue, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("pubsubqueue: %w", err)
	}
	name := path.Join(u.Host, u.Path)
	if name == "" || name == "." || name == "/" {
		return nil, errors.New("pubsubqueue: the rabbit:// URL names no exchange and queue (want rabbit://NAME)")
	}
	server := u.Query().Get("server")
	if server == "" {
		server = os.Getenv("RABBIT_SERVER_URL")
	}
	if server == "" {
		return nil, errors.New("pubsubqueue: no RabbitMQ server: set ?server=amqp://… on the rabbit:// URL, or RABBIT_SERVER_URL")
	}
	// Two connections, as the amqp package recommends: publishing must
	// not wait behind deliveries.
	pubConn, err := amqp.Dial(server)
	if err != nil {
		return nil, fmt.Errorf("pubsubqueue: connect to RabbitMQ: %w", err)
	}
	subConn, err := amqp.Dial(server)
	if err != nil {
		pubConn.Close()
		return nil, fmt.Errorf("pubsubqueue: connect to RabbitMQ: %w", err)
	}
	if err := declare(pubConn, name); err != nil {
		pubConn.Close()
		subConn.Close()
		return nil, err
	}
	// Acknowledgements are sent in batches: a small prefetch would make
	// every Pop wait for the previous batch of acks.
	prefetch := 100
	topic := rabbitpubsub.OpenTopic(pubConn, name, nil)
	sub := rabbitpubsub.OpenSubscription(subConn, name, &rabbitpubsub.SubscriptionOptions{PrefetchCount: &prefetch})
	return New(topic, sub, func() error { return errors.Join(pubConn.Close(), subConn.Close()) }), nil
}

// declare creates the fanout exchange and the durable queue bound to it.
func declare(conn *amqp.Connection, name string) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("pubsubqueue: %w", err)
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(name, "fanout", true, false, false, false, nil); err != nil {
		return fmt.Errorf("pubsubqueue: declare exchange %s: %w", name, err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
		return fmt.Errorf("pubsubqueue: declare queue %s: %w", name, err)
	}
	if err := ch.QueueBind(name, "", name, false, nil); err != nil {
		return fmt.Errorf("pubsubqueue: bind queue %s: %w", name, err)
	}
	return nil
}

// DeleteRabbit removes the exchange and queue a rabbit:// URL names (tests).
func DeleteRabbit(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	server := u.Query().Get("server")
	if server == "" {
		server = os.Getenv("RABBIT_SERVER_URL")
	}
	conn, err := amqp.Dial(server)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	name := path.Join(u.Host, u.Path)
	_, err = ch.QueueDelete(name, false, false, false)
	return errors.Join(err, ch.ExchangeDelete(name, false, false))
}

// Push implements queue.Queue: it returns once the broker has the id.
func (q *Queue) Push(ctx context.Context, id string) error {
	select {
	case <-q.closed:
		return queue.ErrClosed
	default:
	}
	return q.topic.Send(ctx, &pubsub.Message{Body: []byte(id)})
}

// Pop implements queue.Queue. The message is acknowledged before its id
// is returned: from then on the store, not the broker, keeps the command.
func (q *Queue) Pop(ctx context.Context) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(q.ctx, cancel)
	defer stop()
	msg, err := q.sub.Receive(ctx)
	if err != nil {
		select {
		case <-q.closed:
			return "", queue.ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	msg.Ack()
	return string(msg.Body), nil
}

// Close implements queue.Queue. It leaves the broker's exchange and queue.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		close(q.closed)
		q.cancel()
		ctx := context.Background()
		q.closeErr = errors.Join(q.topic.Shutdown(ctx), q.sub.Shutdown(ctx))
		if q.onClose != nil {
			q.closeErr = errors.Join(q.closeErr, q.onClose())
		}
	})
	return q.closeErr
}
