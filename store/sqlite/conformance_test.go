package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/sqlite"
	"github.com/openrender/openrender/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
