package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/openrender/openrender/internal/pgtest"
)

// A change published by one process reaches a subscriber in another at
// once (no store read in between), and stores in other schemas of the same
// database don't hear it.
func TestSignalCrossesProcesses(t *testing.T) {
	u, _ := pgtest.Schema(t, "")
	publisher := openAt(t, u)
	subscriber := openAt(t, u)
	other := open(t) // another schema

	ctx, cancel := context.WithCancel(t.Context())
	heard, otherHeard := make(chan string, 10), make(chan string, 10)
	subscribed := make(chan error, 2)
	go func() { subscribed <- subscriber.Signal().Subscribe(ctx, func(id string) { heard <- id }) }()
	go func() { subscribed <- other.Signal().Subscribe(ctx, func(id string) { otherHeard <- id }) }()

	// The subscription starts asynchronously: publish until it is heard.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for got := ""; got != "cmd-1"; {
		select {
		case got = <-heard:
		case <-tick.C:
			if err := publisher.Signal().Publish(ctx, "cmd-1"); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("the subscriber never heard the published change")
		}
	}
	select {
	case id := <-otherHeard:
		t.Errorf("a store in another schema heard %q", id)
	default:
	}

	cancel()
	for range 2 {
		if err := <-subscribed; err != nil {
			t.Errorf("Subscribe ended with %v, want nil when its context ends", err)
		}
	}
}
