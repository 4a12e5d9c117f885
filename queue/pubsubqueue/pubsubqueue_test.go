package pubsubqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"gocloud.dev/pubsub/mempubsub"

	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/queue/pubsubqueue"
	"github.com/openrender/openrender/queue/queuetest"
)

// OPENRENDER_TEST_RABBIT_URL is a RabbitMQ server, e.g.
// amqp://guest:guest@127.0.0.1:5672/. Each test gets its own exchange and
// queue, deleted at the end.
func TestRabbitConformance(t *testing.T) {
	server := os.Getenv("OPENRENDER_TEST_RABBIT_URL")
	if server == "" {
		t.Skip("OPENRENDER_TEST_RABBIT_URL is not set; skipping a test that needs RabbitMQ")
	}
	queuetest.Run(t, func(t *testing.T) queue.Queue {
		var b [6]byte
		rand.Read(b[:])
		u := "rabbit://ortest_" + hex.EncodeToString(b[:]) + "?server=" + url.QueryEscape(server)
		q, err := queue.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			q.Close()
			if err := pubsubqueue.DeleteRabbit(u); err != nil {
				t.Errorf("delete exchange and queue: %v", err)
			}
		})
		return q
	}, queuetest.Options{})
}

// Any gocloud.dev/pubsub pair works; mempubsub needs no server.
func TestMemPubSubConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queue.Queue {
		topic := mempubsub.NewTopic()
		sub := mempubsub.NewSubscription(topic, time.Minute)
		return pubsubqueue.New(topic, sub, nil)
	}, queuetest.Options{})
}

func TestOpenRabbitNeedsAServer(t *testing.T) {
	t.Setenv("RABBIT_SERVER_URL", "")
	if _, err := pubsubqueue.OpenRabbit(context.Background(), "rabbit://x"); err == nil {
		t.Fatal("opened a rabbit:// queue with no server named")
	}
}
