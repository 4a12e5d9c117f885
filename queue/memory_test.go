package queue_test

import (
	"context"
	"testing"

	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/queue/queuetest"
)

func TestMemoryConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queue.Queue { return queue.NewMemory() }, queuetest.Options{FIFO: true})
}

// The engine's recovery sweep re-pushes every claimable id; ids already
// waiting must not pile up.
func TestMemoryIgnoresDuplicatesWhileWaiting(t *testing.T) {
	q := queue.NewMemory()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		q.Push(ctx, "same")
	}
	q.Push(ctx, "other")
	if n := q.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	if id, _ := q.Pop(ctx); id != "same" {
		t.Fatalf("first Pop = %q", id)
	}
	// Once popped, the same id may be pushed again (its claim may have
	// failed transiently).
	q.Push(ctx, "same")
	if n := q.Len(); n != 2 {
		t.Fatalf("Len after re-push = %d, want 2", n)
	}
}

func BenchmarkMemoryPushPop(b *testing.B) {
	q := queue.NewMemory()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		q.Push(ctx, "id")
		q.Pop(ctx)
	}
}
