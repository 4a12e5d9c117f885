package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// Migrations are numbered by parallel work (0002 webhooks, 0003 files): the
// runner must apply whatever set it is given in number order, gaps or not,
// and leave user_version at the highest number.
func TestMigrateAppliesInNumberOrderWithGaps(t *testing.T) {
	sqlFile := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name   string
		fsys   fstest.MapFS
		tables []string
	}{
		{"gap", fstest.MapFS{
			"migrations/0001_a.sql": sqlFile("CREATE TABLE a (x);"),
			"migrations/0003_c.sql": sqlFile("ALTER TABLE a ADD COLUMN y;"),
		}, []string{"a"}},
		{"contiguous", fstest.MapFS{
			"migrations/0003_c.sql": sqlFile("ALTER TABLE a ADD COLUMN y; CREATE TABLE c (z REFERENCES b(x));"),
			"migrations/0001_a.sql": sqlFile("CREATE TABLE a (x);"),
			"migrations/0002_b.sql": sqlFile("CREATE TABLE b (x PRIMARY KEY);"),
		}, []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "m.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := migrate(t.Context(), db, tc.fsys); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			var version int
			db.QueryRow("PRAGMA user_version").Scan(&version)
			if version != 3 {
				t.Errorf("user_version = %d, want 3", version)
			}
			for _, table := range tc.tables {
				var n int
				if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil || n != 1 {
					t.Errorf("table %s missing after migrate (%v)", table, err)
				}
			}
			// Running again applies nothing (it would fail: ALTER TABLE twice).
			if err := migrate(t.Context(), db, tc.fsys); err != nil {
				t.Errorf("second migrate: %v", err)
			}
		})
	}
}
