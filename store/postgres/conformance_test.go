package postgres_test

import (
	"testing"

	"github.com/openrender/openrender/internal/pgtest"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/postgres"
	"github.com/openrender/openrender/store/storetest"
)

// open opens a store on a fresh schema of the test database, closed and
// dropped when t ends.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	u, _ := pgtest.Schema(t, "")
	return openAt(t, u+"&pool_max_conns=4")
}

// openAt opens a store on the schema u names, closed when t ends: several
// stores on one schema stand for several engine processes.
func openAt(t *testing.T, u string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// The suite again, with the store's queue in use, so that CreateCommand
// takes its other path (queueing in the same statement).
func TestConformanceWithQueue(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t)
		q := s.Queue(postgres.QueueOptions{})
		t.Cleanup(func() { q.Close() })
		return s
	})
}
