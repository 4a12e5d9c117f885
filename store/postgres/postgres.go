// Package postgres is OpenRender's state store for many engine processes:
// PostgreSQL, on github.com/jackc/pgx/v5. Importing it registers the
// "postgres" and "postgresql" schemes with store.Open:
//
//	import _ "github.com/openrender/openrender/store/postgres"
//	st, err := store.Open(ctx, "postgres://openrender@db.internal/openrender?sslmode=require")
//
// The URL is a libpq connection URL as pgx reads it. Parameters pgx does not
// know are sent as run-time parameters, so ?search_path=NAME keeps the
// tables in schema NAME (it must exist) and ?application_name=NAME names the
// connections in pg_stat_activity. Pool size: pool_max_conns (pgxpool).
//
// Every process may open the same database at once: migrations are applied
// under a transaction-scoped advisory lock (see migrate.go), so exactly one
// process applies each of them and the others wait for it.
//
// Who runs a command is decided, as in the SQLite store, by conditional
// UPDATEs on the lease owner; PostgreSQL's row locks make two racing claims
// of one command end with one winner. The store also holds a queue
// (queue.go), so that workers of every process take commands from the
// database itself, woken by LISTEN/NOTIFY.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openrender/openrender/store"
)

func init() {
	open := func(ctx context.Context, u *url.URL) (store.Store, error) {
		return Open(ctx, u.String())
	}
	store.Register("postgres", open)
	store.Register("postgresql", open)
}

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool *pgxpool.Pool
	// schema is the schema the tables live in (the connections'
	// current_schema()), which also names the queue's NOTIFY channel.
	schema string
	// listenConfig opens the connections that LISTEN (the queue's and the
	// signal's): the pool's own connection settings, parsed once, so that
	// pool-only URL parameters such as pool_max_conns don't reach the
	// server as unknown settings.
	listenConfig *pgx.ConnConfig
	// enqueue: CreateCommand also queues the command (see Queue).
	enqueue atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database the URL names and brings its schema up to
// date.
func Open(ctx context.Context, connString string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, listenConfig: cfg.ConnConfig.Copy()}
	if err := migrate(ctx, pool, migrations); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: read current schema: %w", err)
	}
	return s, nil
}

// connectListener opens a connection of its own, outside the pool, for
// LISTEN: a listening connection is held for as long as it listens.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	return pgx.ConnectConfig(ctx, s.listenConfig.Copy())
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the connection pool. Closing twice is harmless.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// db is what both the pool and a transaction can run statements on.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// isUniqueViolation reports a PRIMARY KEY or UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
