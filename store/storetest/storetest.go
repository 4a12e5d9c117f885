// Package storetest is the conformance suite for store.Store: the behaviour
// the engine relies on, written once and run against every driver, in the
// manner of gocloud.dev's drivertest and river's riverdrivertest. A driver is
// done when it passes Run.
//
// # Using it from a driver
//
// A driver calls Run from one test of its own package, passing a function
// that opens a fresh, empty store and registers its own cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := mydriver.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
//			if err != nil {
//				t.Fatalf("open: %v", err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls open exactly once in every subtest, on that subtest's t, and the
// subtest uses nothing else, so subtests are independent and any one of them
// can be run alone:
//
//	go test ./store/mydriver -run 'TestConformance/Leases/ClaimAfterExpiryTakesOver'
//
// A driver backed by a shared server (PostgreSQL, say) must still hand each
// call a store with no accounts, keys, commands or files in it: create a
// database or schema per call, or empty the tables before returning.
//
// Run the suite under the race detector (go test -race). Some subtests call
// the store from several goroutines at once, as several workers of one engine
// do, and check that each command is claimed exactly once.
//
// # What the suite assumes
//
// The store never reads a clock: every time is passed in. The suite therefore
// never sleeps; it uses fixed times (2026-01-02T03:04:05Z plus whole seconds)
// and tests lease expiry by passing later times.
//
// Times read back are compared as instants (time.Time.Equal), so a driver may
// return them in any location. A driver may keep times at microsecond
// precision: a time read back matches when it is less than a microsecond from
// the one written (truncated or rounded). Coarser precision fails.
//
// Errors are matched with errors.Is against store.ErrNotFound,
// store.ErrNotClaimable, store.ErrLeaseLost and store.ErrConflict, so a
// driver may wrap them with context.
//
// Ids are random UUID strings, as the engine makes them; the suite relies on
// nothing about their form beyond being distinct strings.
package storetest

import (
	"testing"

	"github.com/openrender/openrender/store"
)

// test is one rule of the contract, checked on a fresh store.
type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// Run runs the conformance suite. open must return a new, empty store each
// time it is called, and register with t.Cleanup whatever closes it and
// removes its data; it may call t.Fatal if the store cannot be opened.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Accounts", accountTests()},
		{"Commands", commandTests()},
		{"List", listTests()},
		{"Leases", leaseTests()},
		{"Finish", finishTests()},
		{"Recovery", recoveryTests()},
		{"Concurrency", concurrencyTests()},
		{"Webhooks", webhookTests()},
		{"AccountCap", accountCapTests()},
		{"Files", fileTests()},
		{"Presets", presetTests()},
		{"Control", controlTests()},
		{"Idempotency", idempotencyTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					s := open(t)
					if s == nil {
						t.Fatal("storetest: open returned a nil store")
					}
					tc.run(t, s)
				})
			}
		})
	}
}
