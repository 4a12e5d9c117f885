package storetest

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func listTests() []test {
	return []test{
		{"OnlyTheAccountsCommands", testListOnlyOwnAccount},
		{"NewestFirstTiesByIDDescending", testListNewestFirst},
		{"LimitAndOffset", testListPaging},
		{"StatusFilter", testListStatusFilter},
	}
}

func mustList(t *testing.T, s store.Store, q store.CommandQuery) []*store.Command {
	t.Helper()
	got, err := s.ListCommands(t.Context(), q)
	if err != nil {
		t.Fatalf("ListCommands(%+v): %v", q, err)
	}
	return got
}

// createShuffled stores the commands in a fixed pseudo-random order, so that
// a store that returns rows in insertion order is caught.
func createShuffled(t *testing.T, s store.Store, cs []*store.Command) {
	t.Helper()
	order := make([]*store.Command, len(cs))
	copy(order, cs)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, c := range order {
		mustCreate(t, s, c)
	}
}

func testListOnlyOwnAccount(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	idle := mustAccount(t, s, "initech")
	var mine, theirs []*store.Command
	for i := range 5 {
		if i%2 == 0 {
			mine = append(mine, create(t, s, a.ID, i))
		} else {
			theirs = append(theirs, create(t, s, b.ID, i))
		}
	}
	checkIDs(t, "ListCommands(acme)", commandIDs(mustList(t, s, store.CommandQuery{AccountID: a.ID, Limit: 100})), commandIDs(newestFirst(mine)))
	checkIDs(t, "ListCommands(globex)", commandIDs(mustList(t, s, store.CommandQuery{AccountID: b.ID, Limit: 100})), commandIDs(newestFirst(theirs)))
	if got := mustList(t, s, store.CommandQuery{AccountID: idle.ID, Limit: 100}); len(got) != 0 {
		t.Errorf("ListCommands of an account with no commands = %v, want none", commandIDs(got))
	}
	if got := mustList(t, s, store.CommandQuery{AccountID: uuid.NewString(), Limit: 100}); len(got) != 0 {
		t.Errorf("ListCommands of an unknown account = %v, want none", commandIDs(got))
	}
}

func testListNewestFirst(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	// Three commands at second 5, two at second 9, one each at 1 and 7.
	var cs []*store.Command
	for _, sec := range []int{5, 1, 9, 5, 7, 9, 5} {
		cs = append(cs, newCommand(a.ID, at(sec)))
	}
	createShuffled(t, s, cs)
	want := newestFirst(cs)

	got := mustList(t, s, store.CommandQuery{AccountID: a.ID, Limit: 100})
	checkIDs(t, "ListCommands order (CreatedAt descending, then id descending)", commandIDs(got), commandIDs(want))
	// Listed commands are whole records.
	for i := range min(len(got), len(want)) {
		if got[i].ID == want[i].ID {
			checkCommand(t, "ListCommands entry", got[i], want[i])
		}
	}
}

func testListPaging(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	// 25 commands, in pairs that share a second, so that pages split ties;
	// and another account's commands in between.
	var cs []*store.Command
	for i := range 25 {
		cs = append(cs, newCommand(a.ID, at(i/2)))
		if i%5 == 0 {
			cs = append(cs, newCommand(b.ID, at(i/2)))
		}
	}
	createShuffled(t, s, cs)
	var acme []*store.Command
	for _, c := range cs {
		if c.AccountID == a.ID {
			acme = append(acme, c)
		}
	}
	want := commandIDs(newestFirst(acme))

	var all []string
	seen := map[string]bool{}
	for i, wantLen := range []int{10, 10, 5} {
		page := commandIDs(mustList(t, s, store.CommandQuery{AccountID: a.ID, Limit: 10, Offset: 10 * i}))
		if len(page) != wantLen {
			t.Errorf("page %d (limit 10, offset %d) has %d commands, want %d", i+1, 10*i, len(page), wantLen)
		}
		for _, id := range page {
			if seen[id] {
				t.Errorf("page %d repeats command %s", i+1, id)
			}
			seen[id] = true
		}
		all = append(all, page...)
	}
	checkIDs(t, "the three pages together", all, want)

	if got := mustList(t, s, store.CommandQuery{AccountID: a.ID, Limit: 10, Offset: 25}); len(got) != 0 {
		t.Errorf("ListCommands past the end (offset 25) = %v, want none", commandIDs(got))
	}
	checkIDs(t, "ListCommands(limit 4, offset 3)",
		commandIDs(mustList(t, s, store.CommandQuery{AccountID: a.ID, Limit: 4, Offset: 3})), want[3:7])
	checkIDs(t, "ListCommands(limit 1, offset 24)",
		commandIDs(mustList(t, s, store.CommandQuery{AccountID: a.ID, Limit: 1, Offset: 24})), want[24:])
	checkIDs(t, "ListCommands(limit 100)",
		commandIDs(mustList(t, s, store.CommandQuery{AccountID: a.ID, Limit: 100})), want)
}

func testListStatusFilter(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")

	queued1 := create(t, s, a.ID, 1)
	processing := create(t, s, a.ID, 2)
	succeeded1 := create(t, s, a.ID, 3)
	failed := create(t, s, a.ID, 4)
	released := create(t, s, a.ID, 5)
	succeeded2 := create(t, s, a.ID, 6)
	queued2 := create(t, s, a.ID, 7)
	create(t, s, b.ID, 8) // another account's QUEUED command

	mustClaim(t, s, processing.ID, lease(workerA, 10, 100))
	for _, c := range []*store.Command{succeeded1, succeeded2} {
		mustClaim(t, s, c.ID, lease(workerA, 10, 100))
		mustFinish(t, s, c.ID, workerA, success(20, outputFile(c, 0, at(20))))
	}
	mustClaim(t, s, failed.ID, lease(workerA, 10, 100))
	mustFinish(t, s, failed.ID, workerA, failure(20))
	mustClaim(t, s, released.ID, lease(workerA, 10, 100))
	if err := s.ReleaseCommand(t.Context(), released.ID, workerA, at(15)); err != nil {
		t.Fatalf("ReleaseCommand: %v", err)
	}

	ids := func(cs ...*store.Command) []string { return commandIDs(cs) }
	cases := []struct {
		status store.Status
		want   []string
	}{
		{store.StatusQueued, ids(queued2, released, queued1)},
		{store.StatusProcessing, ids(processing)},
		{store.StatusSuccess, ids(succeeded2, succeeded1)},
		{store.StatusFailed, ids(failed)},
		{"", ids(queued2, succeeded2, released, failed, succeeded1, processing, queued1)},
	}
	for _, tc := range cases {
		got := mustList(t, s, store.CommandQuery{AccountID: a.ID, Status: tc.status, Limit: 100})
		checkIDs(t, "ListCommands(status "+string(tc.status)+")", commandIDs(got), tc.want)
		for _, c := range got {
			if tc.status != "" && c.Status != tc.status {
				t.Errorf("ListCommands(status %s) returned command %s with status %s", tc.status, c.ID, c.Status)
			}
		}
	}
	// The filter applies before paging.
	checkIDs(t, "ListCommands(status QUEUED, limit 1, offset 1)",
		commandIDs(mustList(t, s, store.CommandQuery{AccountID: a.ID, Status: store.StatusQueued, Limit: 1, Offset: 1})),
		ids(released))
}
