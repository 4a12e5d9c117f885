package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func accountTests() []test {
	return []test{
		{"EnsureAccountCreatesOnce", testEnsureAccountCreatesOnce},
		{"EnsureAccountDistinctNames", testEnsureAccountDistinctNames},
		{"EnsureAccountConcurrent", testEnsureAccountConcurrent},
		{"AccountByKeyHash", testAccountByKeyHash},
		{"AccountByUnknownKeyHash", testAccountByUnknownKeyHash},
		{"AddSameKeyToSameAccountTwice", testAddSameKeyTwice},
		{"AddKeyToAnotherAccountConflicts", testAddKeyConflict},
		{"CountAPIKeys", testCountAPIKeys},
	}
}

// keyHash is the hash of an API key, as the engine stores it.
func keyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func checkAccount(t *testing.T, what string, got, want *store.Account) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got no account, want %s", what, want.ID)
		return
	}
	var d differ
	d.str("ID", got.ID, want.ID)
	d.str("Name", got.Name, want.Name)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.report(t, what+": account differs")
}

func testEnsureAccountCreatesOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	first, err := s.EnsureAccount(ctx, "acme", at(0))
	if err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	if first.ID == "" {
		t.Fatal("EnsureAccount returned an account with an empty ID")
	}
	checkAccount(t, "first EnsureAccount", first, &store.Account{ID: first.ID, Name: "acme", CreatedAt: at(0)})

	// The second call, later, finds the account: same id, original time.
	second, err := s.EnsureAccount(ctx, "acme", at(60))
	if err != nil {
		t.Fatalf("second EnsureAccount: %v", err)
	}
	checkAccount(t, "second EnsureAccount", second, first)
}

func testEnsureAccountDistinctNames(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	if a.ID == b.ID {
		t.Fatalf("accounts %q and %q share the ID %s", a.Name, b.Name, a.ID)
	}
	checkAccount(t, "EnsureAccount(acme) again", mustAccount(t, s, "acme"), a)
	checkAccount(t, "EnsureAccount(globex) again", mustAccount(t, s, "globex"), b)
}

// Several engine processes may bootstrap the same account at start-up.
func testEnsureAccountConcurrent(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			a, err := s.EnsureAccount(t.Context(), "acme", at(i))
			errs[i] = err
			if err == nil {
				ids[i] = a.ID
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("goroutine %d: EnsureAccount: %v", i, errs[i])
		} else if ids[i] != ids[0] && errs[0] == nil {
			t.Errorf("goroutine %d got account %s, goroutine 0 got %s: the account was created twice", i, ids[i], ids[0])
		}
	}
}

func testAccountByKeyHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	// Hashes are bytes, not text: zero bytes and hashes that differ only in
	// their last byte must be kept apart.
	zeros := make([]byte, 32)
	zerosThenOne := append(bytes.Clone(zeros[:31]), 1)
	keys := []struct {
		hash    []byte
		account *store.Account
	}{
		{keyHash("key-a-1"), a},
		{keyHash("key-a-2"), a},
		{keyHash("key-b-1"), b},
		{zeros, a},
		{zerosThenOne, b},
	}
	for _, k := range keys {
		if err := s.AddAPIKey(ctx, k.account.ID, k.hash, at(1)); err != nil {
			t.Fatalf("AddAPIKey(%s, %x): %v", k.account.Name, k.hash, err)
		}
	}
	for _, k := range keys {
		got, err := s.AccountByKeyHash(ctx, k.hash)
		if err != nil {
			t.Errorf("AccountByKeyHash(%x): %v", k.hash, err)
			continue
		}
		checkAccount(t, "AccountByKeyHash", got, k.account)
	}
	// A prefix of a stored hash is not that hash.
	_, err := s.AccountByKeyHash(ctx, zeros[:31])
	checkErr(t, "AccountByKeyHash(prefix of a stored hash)", err, store.ErrNotFound)
}

func testAccountByUnknownKeyHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.AccountByKeyHash(ctx, keyHash("nobody"))
	checkErr(t, "AccountByKeyHash on an empty store", err, store.ErrNotFound)

	a := mustAccount(t, s, "acme")
	if err := s.AddAPIKey(ctx, a.ID, keyHash("key-a"), at(1)); err != nil {
		t.Fatalf("AddAPIKey: %v", err)
	}
	_, err = s.AccountByKeyHash(ctx, keyHash("nobody"))
	checkErr(t, "AccountByKeyHash(unknown hash)", err, store.ErrNotFound)
	_, err = s.AccountByKeyHash(ctx, nil)
	checkErr(t, "AccountByKeyHash(nil)", err, store.ErrNotFound)
}

func testAddSameKeyTwice(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	h := keyHash("key-a")
	if err := s.AddAPIKey(ctx, a.ID, h, at(1)); err != nil {
		t.Fatalf("AddAPIKey: %v", err)
	}
	if err := s.AddAPIKey(ctx, a.ID, h, at(2)); err != nil {
		t.Fatalf("AddAPIKey of the same hash to the same account again: %v, want nil (a no-op)", err)
	}
	got, err := s.AccountByKeyHash(ctx, h)
	if err != nil {
		t.Fatalf("AccountByKeyHash: %v", err)
	}
	checkAccount(t, "AccountByKeyHash", got, a)
	if n, err := s.CountAPIKeys(ctx); err != nil || n != 1 {
		t.Errorf("CountAPIKeys = %d, %v; want 1 (adding a key twice stores it once)", n, err)
	}
}

func testAddKeyConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	h := keyHash("shared")
	if err := s.AddAPIKey(ctx, a.ID, h, at(1)); err != nil {
		t.Fatalf("AddAPIKey: %v", err)
	}
	err := s.AddAPIKey(ctx, b.ID, h, at(2))
	checkErr(t, "AddAPIKey of acme's hash to globex", err, store.ErrConflict)

	// The key still belongs to its first account, once.
	got, err := s.AccountByKeyHash(ctx, h)
	if err != nil {
		t.Fatalf("AccountByKeyHash: %v", err)
	}
	checkAccount(t, "AccountByKeyHash after the conflict", got, a)
	if n, err := s.CountAPIKeys(ctx); err != nil || n != 1 {
		t.Errorf("CountAPIKeys = %d, %v; want 1", n, err)
	}
}

func testCountAPIKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	count := func(want int, when string) {
		t.Helper()
		n, err := s.CountAPIKeys(ctx)
		if err != nil {
			t.Fatalf("CountAPIKeys %s: %v", when, err)
		}
		if n != want {
			t.Errorf("CountAPIKeys %s = %d, want %d", when, n, want)
		}
	}
	count(0, "on an empty store")
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	count(0, "with accounts but no keys")
	for i, acct := range []*store.Account{a, a, b} {
		if err := s.AddAPIKey(ctx, acct.ID, keyHash(uuid.NewString()), at(i)); err != nil {
			t.Fatalf("AddAPIKey: %v", err)
		}
	}
	count(3, "after 2 keys for acme and 1 for globex")
	h := keyHash("one-more")
	if err := s.AddAPIKey(ctx, b.ID, h, at(5)); err != nil {
		t.Fatalf("AddAPIKey: %v", err)
	}
	_ = s.AddAPIKey(ctx, b.ID, h, at(6))
	if err := s.AddAPIKey(ctx, a.ID, h, at(7)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddAPIKey of globex's hash to acme: err = %v, want %v", err, store.ErrConflict)
	}
	count(4, "after a repeated and a conflicting key")
}
