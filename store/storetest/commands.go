package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func commandTests() []test {
	return []test{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"GetUnknown", testGetUnknown},
		{"CreateDuplicateIDConflicts", testCreateDuplicateID},
		{"NoAliasing", testNoAliasing},
		{"TimesKeepMicroseconds", testTimesKeepMicroseconds},
		{"TimesAreInstants", testTimesAreInstants},
		{"CreateCommandsRecordsAll", testCreateCommandsRecordsAll},
		{"CreateCommandsAllOrNothing", testCreateCommandsAllOrNothing},
	}
}

// richCommand sets every field a new command has, with values that are easy
// to mangle: unicode and quotes, metadata of every JSON scalar type, outputs
// out of alias order.
func richCommand(accountID string, createdAt time.Time) *store.Command {
	return &store.Command{
		ID:        uuid.NewString(),
		AccountID: accountID,
		Type:      store.TypeChainedCommand,
		Status:    store.StatusQueued,
		Request: json.RawMessage(`{
  "input_files": {"in_1": "https://example.com/a b.mp4?sig=x&y=1"},
  "output_files": {"out_1": "thumb.jpg", "out_2": "clip.mp4"},
  "ffmpeg_commands": ["-i {{in_1}} -frames:v 1 {{out_1}}", "-i {{in_1}} -t 5 {{out_2}}"],
  "metadata": {"customer": "Zoë \"Z\" 😀", "frames": 3, "ratio": 0.25, "priority": true},
  "webhook_url": "https://hooks.example.com/x?y=1&z=2"
}`),
		Spec: store.CommandSpec{
			InputFiles:  map[string]string{"in_1": "https://example.com/a b.mp4?sig=x&y=1"},
			OutputFiles: map[string]string{"out_1": "thumb.jpg", "out_2": "clip.mp4"},
			FFmpegCommands: []string{
				"-i {{in_1}} -frames:v 1 {{out_1}}",
				"-i {{in_1}} -t 5 {{out_2}}",
			},
			Metadata: map[string]any{
				"customer": "Zoë \"Z\" 😀",
				"frames":   3.0,
				"ratio":    0.25,
				"priority": true,
				"draft":    false,
			},
			WebhookURL:    "https://hooks.example.com/x?y=1&z=2",
			MaxRunSeconds: 90.5,
		},
		Outputs: []store.OutputRef{
			{Alias: "out_2", FileID: uuid.NewString(), FileName: "clip.mp4"},
			{Alias: "out_1", FileID: uuid.NewString(), FileName: "thumb.jpg"},
		},
		CreatedAt: createdAt,
		UpdatedAt: createdAt,
	}
}

func testCreateGetRoundTrip(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := richCommand(a.ID, at(0))
	want := cloneCommand(c)
	mustCreate(t, s, c)
	checkCommand(t, "GetCommand after CreateCommand", mustGet(t, s, c.ID), want)

	// A plain single command, created later, keeps its own values.
	plain := create(t, s, a.ID, 1)
	checkCommand(t, "GetCommand of a second command", mustGet(t, s, plain.ID), plain)
	// GetCommand returns any account's command.
	b := mustAccount(t, s, "globex")
	other := create(t, s, b.ID, 2)
	checkCommand(t, "GetCommand of another account's command", mustGet(t, s, other.ID), other)
}

func testGetUnknown(t *testing.T, s store.Store) {
	_, err := s.GetCommand(t.Context(), uuid.NewString())
	checkErr(t, "GetCommand(unknown id) on an empty store", err, store.ErrNotFound)
	a := mustAccount(t, s, "acme")
	create(t, s, a.ID, 0)
	_, err = s.GetCommand(t.Context(), uuid.NewString())
	checkErr(t, "GetCommand(unknown id)", err, store.ErrNotFound)
}

func testCreateDuplicateID(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	c := create(t, s, a.ID, 0)

	again := richCommand(a.ID, at(5))
	again.ID = c.ID
	err := s.CreateCommand(t.Context(), again)
	checkErr(t, "CreateCommand with an existing id", err, store.ErrConflict)
	// Ids are unique across accounts too.
	elsewhere := newCommand(b.ID, at(6))
	elsewhere.ID = c.ID
	err = s.CreateCommand(t.Context(), elsewhere)
	checkErr(t, "CreateCommand with an id another account uses", err, store.ErrConflict)
	checkUnchanged(t, s, "after creating the id twice", c)
}

// A store must not keep or hand out memory its callers can change: the
// engine reuses and edits the values it passes in and gets back.
func testNoAliasing(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := richCommand(a.ID, at(0))
	want := cloneCommand(c)
	mustCreate(t, s, c)

	// Change what was passed in.
	c.Request[len(c.Request)-1] = ' '
	c.Spec.InputFiles["in_1"] = "changed"
	c.Spec.Metadata["customer"] = "changed"
	c.Spec.FFmpegCommands[0] = "changed"
	c.Outputs[0].FileName = "changed"
	checkCommand(t, "GetCommand after the caller changed its command", mustGet(t, s, c.ID), want)

	// Change what was handed out.
	got := mustGet(t, s, c.ID)
	if got.Spec.InputFiles != nil {
		got.Spec.InputFiles["in_1"] = "changed"
	}
	if got.Spec.Metadata != nil {
		got.Spec.Metadata["customer"] = "changed"
	}
	if len(got.Spec.FFmpegCommands) > 0 {
		got.Spec.FFmpegCommands[0] = "changed"
	}
	if len(got.Outputs) > 0 {
		got.Outputs[0].FileName = "changed"
	}
	if len(got.Request) > 0 {
		got.Request[0] = ' '
	}
	checkCommand(t, "GetCommand after the caller changed a returned command", mustGet(t, s, c.ID), want)

	// The same for the files FinishCommand stores.
	mustClaim(t, s, c.ID, lease(workerA, 10, 40))
	f := outputFile(want, 0, at(20))
	wantFile := cloneFile(f)
	mustFinish(t, s, c.ID, workerA, success(20, f))
	f.FileName = "changed"
	*f.Info.Width = 1
	*f.Info.Duration = 1
	gotFile, err := s.GetFile(ctx, f.ID)
	if err != nil {
		t.Fatalf("GetFile: %v", err)
	}
	checkFile(t, "GetFile after the caller changed the file it stored", gotFile, wantFile)
	if gotFile.Info.Width != nil {
		*gotFile.Info.Width = 2
	}
	gotFile.FileName = "changed"
	again, err := s.GetFile(ctx, f.ID)
	if err != nil {
		t.Fatalf("GetFile: %v", err)
	}
	checkFile(t, "GetFile after the caller changed a returned file", again, wantFile)
}

// Times keep at least microseconds: two commands a microsecond apart are
// told apart, and a lease expiry keeps its fraction of a second.
func testTimesKeepMicroseconds(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	t0 := base.Add(123456789 * time.Nanosecond) // …05.123456789
	first := mustCreate(t, s, newCommand(a.ID, t0))
	second := mustCreate(t, s, newCommand(a.ID, t0.Add(time.Microsecond)))
	checkCommand(t, "GetCommand", mustGet(t, s, first.ID), first)
	checkCommand(t, "GetCommand", mustGet(t, s, second.ID), second)

	got, err := s.ListCommands(t.Context(), store.CommandQuery{AccountID: a.ID, Limit: 10})
	if err != nil {
		t.Fatalf("ListCommands: %v", err)
	}
	checkIDs(t, "ListCommands of commands a microsecond apart", commandIDs(got), []string{second.ID, first.ID})

	l := store.Lease{Owner: workerA, Now: t0.Add(time.Second), ExpiresAt: t0.Add(30*time.Second + 654321*time.Nanosecond)}
	claimedCmd := mustClaim(t, s, first.ID, l)
	want := claimed(first, l, 1, 0)
	checkCommand(t, "ClaimCommand result", claimedCmd, want)
	checkCommand(t, "GetCommand after the claim", mustGet(t, s, first.ID), want)
}

// Times are instants: the location a time is given in changes nothing, as
// the engine's clock may read local time.
func testTimesAreInstants(t *testing.T, s store.Store) {
	ctx := t.Context()
	east := time.FixedZone("UTC+14", 14*60*60)
	west := time.FixedZone("UTC-12", -12*60*60)
	a := mustAccount(t, s, "acme")

	// earlier reads 18:04 on the 2nd in its zone, later 17:04 on the 1st:
	// ordered by their wall clocks they would swap.
	earlier := mustCreate(t, s, newCommand(a.ID, at(3600).In(east)))
	later := mustCreate(t, s, newCommand(a.ID, at(7200).In(west)))
	checkCommand(t, "GetCommand of a command created in UTC+14", mustGet(t, s, earlier.ID), earlier)
	checkCommand(t, "GetCommand of a command created in UTC-12", mustGet(t, s, later.ID), later)

	got, err := s.ListCommands(ctx, store.CommandQuery{AccountID: a.ID, Limit: 10})
	if err != nil {
		t.Fatalf("ListCommands: %v", err)
	}
	checkIDs(t, "ListCommands of commands created in different zones", commandIDs(got), []string{later.ID, earlier.ID})

	claimable, err := s.ClaimableCommands(ctx, at(7200), "", 10)
	if err != nil {
		t.Fatalf("ClaimableCommands: %v", err)
	}
	checkIDs(t, "ClaimableCommands of commands created in different zones", claimable, []string{earlier.ID, later.ID})

	// A lease taken in UTC+14 that expires at a time given in UTC-12 is
	// judged, from UTC, on the instant.
	l := store.Lease{Owner: workerA, Now: at(7300).In(east), ExpiresAt: at(7330).In(west)}
	mustClaim(t, s, earlier.ID, l)
	_, err = s.ClaimCommand(ctx, earlier.ID, lease(workerB, 7329, 7400))
	checkErr(t, "ClaimCommand a second before the lease expires", err, store.ErrNotClaimable)
	stillHeld, err := s.ClaimableCommands(ctx, at(7329), "", 10)
	if err != nil {
		t.Fatalf("ClaimableCommands: %v", err)
	}
	if slices.Contains(stillHeld, earlier.ID) {
		t.Errorf("ClaimableCommands a second before the lease expires lists the command")
	}
	mustClaim(t, s, earlier.ID, lease(workerB, 7330, 7400))
}

// CreateCommands records a batch (a run-multiple-ffmpeg-commands request)
// in one step: every command readable and listed afterwards.
func testCreateCommandsRecordsAll(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	batch := []*store.Command{newCommand(a.ID, at(0)), richCommand(a.ID, at(0)), newCommand(a.ID, at(1))}
	for _, c := range batch {
		c.Type = store.TypeMultipleCommand
	}
	want := make([]*store.Command, len(batch))
	for i, c := range batch {
		want[i] = cloneCommand(c)
	}
	if err := s.CreateCommands(t.Context(), batch); err != nil {
		t.Fatalf("CreateCommands: %v", err)
	}
	for i, c := range want {
		checkCommand(t, fmt.Sprintf("GetCommand of batch entry %d", i), mustGet(t, s, c.ID), c)
	}
	got, err := s.ListCommands(t.Context(), store.CommandQuery{AccountID: a.ID, Limit: 10})
	if err != nil {
		t.Fatalf("ListCommands: %v", err)
	}
	if len(got) != len(batch) {
		t.Errorf("ListCommands after CreateCommands of %d gave %d commands", len(batch), len(got))
	}
}

// One bad entry (an id that exists) records none of the batch.
func testCreateCommandsAllOrNothing(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	existing := create(t, s, a.ID, 0)
	fresh := newCommand(a.ID, at(1))
	dup := newCommand(a.ID, at(1))
	dup.ID = existing.ID
	err := s.CreateCommands(t.Context(), []*store.Command{fresh, dup})
	checkErr(t, "CreateCommands with one existing id", err, store.ErrConflict)
	if _, err := s.GetCommand(t.Context(), fresh.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCommand of the good entry of a refused batch = %v, want ErrNotFound", err)
	}
	checkUnchanged(t, s, "after a refused batch", existing)

	// A batch repeating one id is refused whole too.
	twin := newCommand(a.ID, at(2))
	twin2 := newCommand(a.ID, at(2))
	twin2.ID = twin.ID
	err = s.CreateCommands(t.Context(), []*store.Command{twin, twin2})
	checkErr(t, "CreateCommands repeating an id", err, store.ErrConflict)
	if _, err := s.GetCommand(t.Context(), twin.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCommand of a refused batch's id = %v, want ErrNotFound", err)
	}
}
