package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/store/sqlite"
)

func newQueued(accountID, id string) *store.Command {
	now := time.Now()
	return &store.Command{ID: id, AccountID: accountID, Type: store.TypeFFmpegCommand, Status: store.StatusQueued,
		Request: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
}

// Concurrent creates share commits; a duplicate in a shared commit fails
// only its own caller, and every other row is committed, surviving a reopen.
func TestGroupCommitFailsOnlyTheBadRow(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := s.EnsureAccount(ctx, "a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	taken := uuid.NewString()
	if err := s.CreateCommand(ctx, newQueued(acct.ID, taken)); err != nil {
		t.Fatal(err)
	}
	const n = 400
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = uuid.NewString()
		if i%50 == 7 {
			ids[i] = taken // a duplicate in the middle of a burst
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateCommand(ctx, newQueued(acct.ID, ids[i]))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if ids[i] == taken {
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("duplicate %d: %v, want ErrConflict", i, err)
			}
		} else if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	s.Close()

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, id := range ids {
		if _, err := s.GetCommand(ctx, id); err != nil {
			t.Fatalf("command %d after reopen: %v", i, err)
		}
	}
}

// Creates racing with Close either commit or fail; none hangs.
func TestCreateDuringCloseNeverHangs(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	acct, err := s.EnsureAccount(ctx, "a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.CreateCommand(ctx, newQueued(acct.ID, uuid.NewString()))
		}()
	}
	time.Sleep(time.Millisecond)
	s.Close()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("CreateCommand calls hang after Close")
	}
}

// Closing a store twice is harmless, as database/sql's Close is.
func TestCloseTwice(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
}
