// Package sqlite is OpenRender's default state store: one SQLite file in WAL
// mode, on github.com/mattn/go-sqlite3. Importing it registers the "sqlite"
// scheme with store.Open:
//
//	import _ "github.com/openrender/openrender/store/sqlite"
//	st, err := store.Open(ctx, "sqlite:///var/lib/openrender/openrender.db")
//
// Several engine processes on one host may share the file; SQLite serialises
// their writes. Every commit is synced to disk (synchronous=FULL), so a
// command is durable once CreateCommand returns.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/openrender/openrender/store"
)

func init() {
	open := func(ctx context.Context, u *url.URL) (store.Store, error) {
		path := u.Path
		if u.Opaque != "" { // sqlite:relative/path.db
			path = u.Opaque
		}
		if u.Host != "" { // sqlite://relative/path.db reads as host "relative"
			path = filepath.Join(u.Host, path)
		}
		if path == "" {
			return nil, errors.New("sqlite: the URL names no file (want sqlite:///path/to/file.db)")
		}
		return Open(ctx, path)
	}
	store.Register("sqlite", open)
	store.Register("sqlite3", open)
}

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	// write has exactly one connection: SQLite allows one writer at a time,
	// and queueing writers in database/sql is cheaper than letting them
	// fight over the file lock with busy retries.
	write *sql.DB
	// read has several connections; in WAL mode readers never block the
	// writer nor each other.
	read *sql.DB
	// inserts group new commands into shared commits (see groupcommit.go).
	inserts *commandInserter
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so a transaction
	// that reads then writes can't fail half-way with SQLITE_BUSY.
	common := "_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_synchronous=FULL"
	w, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+common+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w, migrations); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := runtime.GOMAXPROCS(0) * 2
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	return &Store{write: w, read: r, inserts: newCommandInserter(w)}, nil
}

// escapePath keeps a '?' or '#' in a file name from being read as the start
// of the DSN's query.
func escapePath(p string) string {
	return strings.NewReplacer("?", "%3f", "#", "%23").Replace(p)
}

// Close closes both connection pools.
func (s *Store) Close() error {
	s.inserts.close()
	return errors.Join(s.read.Close(), s.write.Close())
}

// migrate applies the migrations in fsys newer than the file's
// user_version, in one IMMEDIATE transaction, so processes starting at the
// same time apply each migration exactly once. Files apply in the order of
// their number prefix and user_version becomes the last number applied;
// numbers need not be contiguous (0003 may land before 0002 is written),
// but a migration numbered below a database's user_version is never
// applied to it, so a new number must be higher than every number any
// released database has seen.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin migration: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	applied := version
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s has no number prefix", name)
		}
		if n <= version {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("sqlite: apply migration %s: %w", name, err)
		}
		applied = n
	}
	if applied == version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", applied)); err != nil {
		return err
	}
	return tx.Commit()
}

// isUniqueViolation reports a PRIMARY KEY or UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		(se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey || se.ExtendedCode == sqlite3.ErrConstraintUnique)
}
