package natsqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/queue/natsqueue"
	"github.com/openrender/openrender/queue/queuetest"
)

// OPENRENDER_TEST_NATS_URL is a NATS server with JetStream, e.g.
// nats://127.0.0.1:4222. Each test gets its own stream, deleted at the end.
func openFresh(t *testing.T) queue.Queue {
	base := os.Getenv("OPENRENDER_TEST_NATS_URL")
	if base == "" {
		t.Skip("OPENRENDER_TEST_NATS_URL is not set; skipping a test that needs NATS")
	}
	var b [6]byte
	rand.Read(b[:])
	u := base + "/ortest_" + hex.EncodeToString(b[:])
	q, err := natsqueue.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := natsqueue.DeleteStream(ctx, u); err != nil {
			t.Errorf("delete stream: %v", err)
		}
	})
	return q
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, openFresh, queuetest.Options{FIFO: true})
}

func TestOpenRefusesBadStreamNames(t *testing.T) {
	if _, err := natsqueue.Open(t.Context(), "nats://127.0.0.1:1/a.b"); err == nil {
		t.Fatal("a stream name with a dot was accepted")
	}
}
