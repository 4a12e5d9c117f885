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
// one worker. A lost connection is re-dialed with backoff (see Queue).
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
	"net"
	"net/url"
	"os"
	"path"
	"sync"
	"time"

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
//
// A queue from OpenRabbit re-dials RabbitMQ whenever its connection is
// lost (the broker restarted or closed it, or a Send or Receive failed):
// after DefaultRedialMinDelay, doubling up to DefaultRedialMaxDelay while
// dials fail, it dials again, re-declares the exchange and queue and
// reopens the topic and subscription. Pops blocked meanwhile carry on with
// the new connection. A Push during an outage, or one whose Send fails,
// returns an error at once rather than waiting out the outage: the engine
// logs it and its recovery sweep pushes the command again, while a
// submitting client is not kept waiting on the broker.
type Queue struct {
	// dial opens a fresh connection, topic and subscription; nil for a
	// queue from New, which has nothing to re-dial.
	dial func(ctx context.Context) (*conn, error)

	mu      sync.Mutex
	cur     *conn         // nil while re-dialing
	changed chan struct{} // closed (and replaced) when cur is replaced

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	ctx       context.Context // cancelled by Close: ends every Pop and the re-dial loop
	cancel    context.CancelFunc
	redialer  sync.WaitGroup // the re-dial loop and the shutdowns of lost connections
}

// conn is one connection's topic and subscription.
type conn struct {
	topic   *pubsub.Topic
	sub     *pubsub.Subscription
	release func() error // closes what topic and sub were opened on; may be nil
	born    time.Time
	lost    context.Context // done once the connection is gone
	lose    context.CancelFunc
}

func newConn(topic *pubsub.Topic, sub *pubsub.Subscription, release func() error) *conn {
	lost, lose := context.WithCancel(context.Background())
	return &conn{topic: topic, sub: sub, release: release, born: time.Now(), lost: lost, lose: lose}
}

// shutdown flushes and stops the topic and subscription, then releases
// their connections.
func (c *conn) shutdown(ctx context.Context) error {
	c.lose()
	err := errors.Join(c.topic.Shutdown(ctx), c.sub.Shutdown(ctx))
	if c.release != nil {
		err = errors.Join(err, c.release())
	}
	return err
}

const (
	// DefaultRedialMinDelay is how long a queue from OpenRabbit waits
	// before re-dialing a lost connection.
	DefaultRedialMinDelay = 100 * time.Millisecond
	// DefaultRedialMaxDelay caps the wait between failed re-dials, which
	// doubles from DefaultRedialMinDelay.
	DefaultRedialMaxDelay = 5 * time.Second
)

// lostShutdownTimeout bounds the shutdown of a lost connection's topic
// and subscription, which have nothing left to flush to.
const lostShutdownTimeout = 5 * time.Second

var _ queue.Queue = (*Queue)(nil)

// New returns a queue that sends to topic and receives from sub, which
// must receive what is sent to topic. Close shuts both down, then calls
// onClose (if not nil) to release what they were opened on. Such a queue
// does not re-dial: a failed Receive is returned by Pop.
func New(topic *pubsub.Topic, sub *pubsub.Subscription, onClose func() error) *Queue {
	return newQueue(newConn(topic, sub, onClose), nil)
}

func newQueue(c *conn, dial func(context.Context) (*conn, error)) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{dial: dial, cur: c, changed: make(chan struct{}), closed: make(chan struct{}), ctx: ctx, cancel: cancel}
	if dial != nil {
		q.redialer.Add(1)
		go q.redialLoop(c)
	}
	return q
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
	dial := func(ctx context.Context) (*conn, error) { return dialRabbit(ctx, server, name) }
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	return newQueue(c, dial), nil
}

// dialRabbit connects to server, declares the exchange and queue called
// name, and opens a topic and subscription on them. The connection is
// marked lost when the broker or the network closes it.
func dialRabbit(ctx context.Context, server, name string) (*conn, error) {
	// Two connections, as the amqp package recommends: publishing must
	// not wait behind deliveries. Their names show in the broker's
	// management tools.
	pubConn, err := amqp.DialConfig(server, amqpConfig(ctx, "openrender queue "+name+" (push)"))
	if err != nil {
		return nil, fmt.Errorf("pubsubqueue: connect to RabbitMQ: %w", err)
	}
	subConn, err := amqp.DialConfig(server, amqpConfig(ctx, "openrender queue "+name+" (pop)"))
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
	c := newConn(topic, sub, func() error { return errors.Join(pubConn.Close(), subConn.Close()) })
	pubClosed := pubConn.NotifyClose(make(chan *amqp.Error, 1))
	subClosed := subConn.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		// Both channels are closed by Close too, so this always ends.
		select {
		case <-pubClosed:
		case <-subClosed:
		}
		c.lose()
	}()
	return c, nil
}

// amqpConfig is amqp.Dial's configuration plus a connection name, with a
// TCP dial that ctx cancels (so Close need not wait out a dead server).
func amqpConfig(ctx context.Context, connName string) amqp.Config {
	const handshakeTimeout = 30 * time.Second // amqp.Dial's
	return amqp.Config{
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Properties: amqp.Table{"connection_name": connName},
		Dial: func(network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The amqp package clears the deadline once the handshake is done.
			if err := nc.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
				nc.Close()
				return nil, err
			}
			return nc, nil
		},
	}
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

// redialLoop replaces c, and each connection after it, once it is lost,
// until Close.
func (q *Queue) redialLoop(c *conn) {
	defer q.redialer.Done()
	delay := DefaultRedialMinDelay
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-c.lost.Done():
		}
		q.mu.Lock()
		mine := q.cur == c // else Close took it, and shuts it down
		if mine {
			q.cur = nil
		}
		q.mu.Unlock()
		if !mine {
			return
		}
		q.redialer.Add(1)
		go func(c *conn) {
			defer q.redialer.Done()
			ctx, cancel := context.WithTimeout(context.Background(), lostShutdownTimeout)
			defer cancel()
			c.shutdown(ctx) // its errors are the loss itself
		}(c)
		// A connection lost soon after it was dialed counts as a failed
		// dial, so a broker that accepts and then drops connections is not
		// re-dialed in a tight loop.
		if time.Since(c.born) >= DefaultRedialMaxDelay {
			delay = DefaultRedialMinDelay
		}
		for {
			t := time.NewTimer(delay)
			select {
			case <-q.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, DefaultRedialMaxDelay)
			next, err := q.dial(q.ctx)
			if err == nil {
				c = next
				break
			}
		}
		q.mu.Lock()
		if q.ctx.Err() != nil { // Close ran while dialing
			q.mu.Unlock()
			c.shutdown(context.Background())
			return
		}
		q.cur = c
		close(q.changed)
		q.changed = make(chan struct{})
		q.mu.Unlock()
	}
}

// current returns the live connection, waiting for a re-dial if there is
// none.
func (q *Queue) current(ctx context.Context) (*conn, error) {
	for {
		q.mu.Lock()
		c, changed := q.cur, q.changed
		q.mu.Unlock()
		select {
		case <-q.closed:
			return nil, queue.ErrClosed
		default:
		}
		if c != nil && c.lost.Err() == nil {
			return c, nil
		}
		select {
		case <-changed:
		case <-q.closed:
			return nil, queue.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// errRedialing is Push's error while the queue has no connection.
var errRedialing = errors.New("pubsubqueue: the connection to the broker was lost; re-dialing")

// Push implements queue.Queue: it returns once the broker has the id. It
// does not wait for a lost connection to be re-dialed (see Queue).
func (q *Queue) Push(ctx context.Context, id string) error {
	select {
	case <-q.closed:
		return queue.ErrClosed
	default:
	}
	q.mu.Lock()
	c := q.cur
	q.mu.Unlock()
	if c == nil || c.lost.Err() != nil {
		return errRedialing
	}
	err := c.topic.Send(ctx, &pubsub.Message{Body: []byte(id)})
	if err != nil && ctx.Err() == nil && q.dial != nil {
		// The topic's channel or connection is broken; a fresh one
		// re-declares the exchange too, should that be what went missing.
		c.lose()
	}
	return err
}

// Pop implements queue.Queue. The message is acknowledged before its id
// is returned: from then on the store, not the broker, keeps the command.
// (gocloud.dev sends acks in batches, so an id popped just before a lost
// connection may be delivered again after the re-dial.)
func (q *Queue) Pop(ctx context.Context) (string, error) {
	for {
		c, err := q.current(ctx)
		if err != nil {
			return "", err
		}
		msg, err := q.receive(ctx, c)
		if err == nil {
			msg.Ack()
			return string(msg.Body), nil
		}
		select {
		case <-q.closed:
			return "", queue.ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if q.dial == nil {
			return "", err
		}
		// A gocloud.dev Subscription that failed a Receive fails every
		// later one: only a new connection helps.
		c.lose()
	}
}

// receive receives from c's subscription until ctx is done, the queue is
// closed or c is lost.
func (q *Queue) receive(ctx context.Context, c *conn) (*pubsub.Message, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopClosed := context.AfterFunc(q.ctx, cancel)
	defer stopClosed()
	stopLost := context.AfterFunc(c.lost, cancel)
	defer stopLost()
	return c.sub.Receive(ctx)
}

// Close implements queue.Queue. It stops re-dialing and leaves the
// broker's exchange and queue.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		close(q.closed)
		q.cancel()
		q.mu.Lock()
		c := q.cur
		q.cur = nil
		q.mu.Unlock()
		if c != nil {
			q.closeErr = c.shutdown(context.Background())
		}
		q.redialer.Wait()
	})
	return q.closeErr
}
