// Package pgtest gives tests their own PostgreSQL schema on the shared
// test database named by OPENRENDER_TEST_POSTGRES_URL, so that tests of
// several packages (and of several engineers) can run on one database at
// once without seeing each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable naming the test database, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "OPENRENDER_TEST_POSTGRES_URL"

// BaseURL returns the test database's URL, or skips t when it is unset.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skip(EnvURL + " is not set; skipping a test that needs PostgreSQL")
	}
	return u
}

// Schema creates a new schema with a random name, drops it (and
// everything in it) when the test ends, and returns a URL whose
// connections use it (search_path) and carry application_name appName
// (or the schema's name if appName is empty), so the test can find its
// own connections in pg_stat_activity.
func Schema(t testing.TB, appName string) (connURL, schema string) {
	t.Helper()
	base := BaseURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema = "ortest_" + hex.EncodeToString(b[:])
	if appName == "" {
		appName = schema
	}
	exec(t, base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		exec(t, base, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// Exec runs one statement on the test database, outside any test schema.
func Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	exec(t, BaseURL(t), sql, args...)
}

func exec(t testing.TB, connURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
