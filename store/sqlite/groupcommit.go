package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit for new commands. Every commit is synced to disk
// (synchronous=FULL), and SQLite has one writer, so one command per
// transaction caps submissions at one fsync each. Instead, inserts that
// arrive while a transaction is being written wait and go into the next
// one together: each caller still returns only once its own row is
// committed, but a burst of N submissions shares one fsync.
//
// A failed INSERT (a duplicate id, say) ends only that statement in SQLite,
// not the transaction, so one bad row fails only its own caller.

// maxInsertBatch bounds one transaction's rows, and so its latency.
const maxInsertBatch = 256

const insertCommandSQL = `INSERT INTO commands
	(id, account_id, command_type, status, request, spec, outputs, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

type insertRequest struct {
	args []any
	done chan error
}

type commandInserter struct {
	db        *sql.DB
	requests  chan *insertRequest
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

func newCommandInserter(db *sql.DB) *commandInserter {
	ci := &commandInserter{
		db:       db,
		requests: make(chan *insertRequest, maxInsertBatch),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go ci.run()
	return ci
}

var errStoreClosed = errors.New("sqlite: store is closed")

// insert writes one row and returns once it is committed. ctx bounds only
// the wait for a place in a batch: once the row is handed over, the caller
// waits for the commit, so that an error never hides a committed command.
func (ci *commandInserter) insert(ctx context.Context, args []any) error {
	r := &insertRequest{args: args, done: make(chan error, 1)}
	select {
	case ci.requests <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-ci.stop:
		return errStoreClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ci.stopped:
		// Handed over as the store closed: answered, or never taken.
		select {
		case err := <-r.done:
			return err
		default:
			return errStoreClosed
		}
	}
}

func (ci *commandInserter) run() {
	defer close(ci.stopped)
	batch := make([]*insertRequest, 0, maxInsertBatch)
	for {
		select {
		case r := <-ci.requests:
			batch = append(batch[:0], r)
		case <-ci.stop:
			ci.drain()
			return
		}
	collect:
		for len(batch) < maxInsertBatch {
			select {
			case r := <-ci.requests:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		ci.write(batch)
	}
}

// write inserts the batch in one transaction and answers every caller.
func (ci *commandInserter) write(batch []*insertRequest) {
	errs := make([]error, len(batch))
	err := func() error {
		// Not the callers' contexts: the batch is theirs together, and
		// one caller giving up must not roll back the others' rows.
		tx, err := ci.db.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		stmt, err := tx.Prepare(insertCommandSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, r := range batch {
			if _, err := stmt.Exec(r.args...); err != nil {
				errs[i] = err
			}
		}
		return tx.Commit()
	}()
	for i, r := range batch {
		switch {
		case err != nil:
			r.done <- fmt.Errorf("commit: %w", err)
		default:
			r.done <- errs[i]
		}
	}
}

// drain answers what is still queued when the store closes.
func (ci *commandInserter) drain() {
	for {
		select {
		case r := <-ci.requests:
			r.done <- errStoreClosed
		default:
			return
		}
	}
}

// close stops the inserter; closing twice (a store closed twice) is harmless.
func (ci *commandInserter) close() {
	ci.closeOnce.Do(func() { close(ci.stop) })
	<-ci.stopped
}
