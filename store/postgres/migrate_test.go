package postgres_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/internal/pgtest"
	"github.com/openrender/openrender/store/postgres"
)

// Several processes starting at once on a fresh database: each migration
// is applied exactly once, nobody fails, and every store works.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	u, _ := pgtest.Schema(t, "")
	u += "&pool_max_conns=2"
	const n = 8
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = postgres.Open(context.Background(), u)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d: %v", i, n, err)
		}
		defer stores[i].Close()
	}
	rows, err := stores[0].Pool().Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	if want := migrationVersions(t); !slices.Equal(versions, want) {
		t.Fatalf("schema_migrations holds %v, want %v (one per file in migrations/)", versions, want)
	}
	for i, s := range stores {
		if _, err := s.EnsureAccount(t.Context(), "acct", time.Now()); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	// Opening again applies nothing (re-running an ALTER would fail).
	again, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	again.Close()
}

// migrationVersions are the numbers of the migration files, in order: what
// a fresh database must have applied.
func migrationVersions(t *testing.T) []int32 {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int32
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 32)
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		versions = append(versions, int32(v))
	}
	if len(versions) < 5 {
		t.Fatalf("found %d migrations in migrations/, want at least 5", len(versions))
	}
	return versions
}
