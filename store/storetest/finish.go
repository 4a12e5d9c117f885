package storetest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func finishTests() []test {
	return []test{
		{"Success", testFinishSuccess},
		{"Failed", testFinishFailed},
		{"Twice", testFinishTwice},
		{"CommandFilesOfSeveralCommands", testCommandFiles},
		{"GetFileUnknown", testGetFileUnknown},
		{"StatusOnlyMovesForward", testStatusOnlyMovesForward},
	}
}

func mustCommandFiles(t *testing.T, s store.Store, ids ...string) []*store.File {
	t.Helper()
	fs, err := s.CommandFiles(t.Context(), ids...)
	if err != nil {
		t.Fatalf("CommandFiles(%v): %v", ids, err)
	}
	return fs
}

func mustGetFile(t *testing.T, s store.Store, id string) *store.File {
	t.Helper()
	f, err := s.GetFile(t.Context(), id)
	if err != nil {
		t.Fatalf("GetFile(%s): %v", id, err)
	}
	return f
}

// checkNoFiles reports any file stored for command c, or under the given ids.
func checkNoFiles(t *testing.T, s store.Store, what string, c *store.Command, fileIDs ...string) {
	t.Helper()
	if fs := mustCommandFiles(t, s, c.ID); len(fs) != 0 {
		t.Errorf("%s: CommandFiles = %d files, want none", what, len(fs))
	}
	for _, id := range fileIDs {
		_, err := s.GetFile(t.Context(), id)
		checkErr(t, what+": GetFile", err, store.ErrNotFound)
	}
}

// twoFiles returns the files of rich command c's two outputs. Between them
// they set every field of store.File; the second also leaves out the media
// facts that do not apply to a still image.
func twoFiles(c *store.Command) (video, image *store.File) {
	video = outputFile(c, 0, at(30))
	image = outputFile(c, 1, at(30))
	image.SizeBytes = 0
	image.Info = imageInfo()
	image.Status = store.FileFailed
	image.IsDeleted = true
	image.OriginalURL = "https://example.com/source.png?x=1&y=2"
	image.ErrorStatus = "probe_failed"
	image.ErrorMessage = "ffprobe: Invalid data found when processing input"
	image.CreatedAt = at(25)
	return video, image
}

func testFinishSuccess(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := mustCreate(t, s, richCommand(a.ID, at(0)))
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 100))
	video, image := twoFiles(c)
	wantVideo, wantImage := cloneFile(video), cloneFile(image)

	o := success(30, video, image)
	mustFinish(t, s, c.ID, workerA, o)

	got := mustGet(t, s, c.ID)
	want := finished(held, o)
	want.LeaseExpiresAt = got.LeaseExpiresAt // not part of the contract once finished
	checkCommand(t, "GetCommand after FinishCommand(SUCCESS)", got, want)

	checkFiles(t, "CommandFiles after FinishCommand(SUCCESS)", mustCommandFiles(t, s, c.ID), wantVideo, wantImage)
	checkFile(t, "GetFile of the first output", mustGetFile(t, s, video.ID), wantVideo)
	checkFile(t, "GetFile of the second output", mustGetFile(t, s, image.ID), wantImage)
}

func testFinishFailed(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := create(t, s, a.ID, 0)
	held := mustClaim(t, s, c.ID, lease(workerA, 10, 100))

	o := failure(30)
	mustFinish(t, s, c.ID, workerA, o)

	got := mustGet(t, s, c.ID)
	want := finished(held, o)
	want.LeaseExpiresAt = got.LeaseExpiresAt
	checkCommand(t, "GetCommand after FinishCommand(FAILED)", got, want)
	checkNoFiles(t, s, "after FinishCommand(FAILED)", c, c.Outputs[0].FileID)
}

// A command finishes exactly once: the first outcome stands.
func testFinishTwice(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	c := mustCreate(t, s, richCommand(a.ID, at(0)))
	mustClaim(t, s, c.ID, lease(workerA, 10, 100))
	video, image := twoFiles(c)
	wantVideo := cloneFile(video)
	mustFinish(t, s, c.ID, workerA, success(30, video))
	first := mustGet(t, s, c.ID)

	err := s.FinishCommand(ctx, c.ID, workerA, failure(40))
	checkErr(t, "second FinishCommand(FAILED) by the same owner", err, store.ErrLeaseLost)
	err = s.FinishCommand(ctx, c.ID, workerA, success(50, image))
	checkErr(t, "third FinishCommand(SUCCESS) by the same owner", err, store.ErrLeaseLost)

	checkUnchanged(t, s, "after finishing again", first)
	checkFiles(t, "CommandFiles after finishing again", mustCommandFiles(t, s, c.ID), wantVideo)
	_, err = s.GetFile(ctx, image.ID)
	checkErr(t, "GetFile of a file from a refused FinishCommand", err, store.ErrNotFound)
}

func testCommandFiles(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	rich := mustCreate(t, s, richCommand(a.ID, at(0)))
	plain := create(t, s, b.ID, 1)
	failed := create(t, s, a.ID, 2)
	queued := create(t, s, a.ID, 3)

	video, image := twoFiles(rich)
	single := outputFile(plain, 0, at(30))
	want := []*store.File{cloneFile(video), cloneFile(image), cloneFile(single)}
	mustClaim(t, s, rich.ID, lease(workerA, 10, 100))
	mustFinish(t, s, rich.ID, workerA, success(30, video, image))
	mustClaim(t, s, plain.ID, lease(workerB, 10, 100))
	mustFinish(t, s, plain.ID, workerB, success(30, single))
	mustClaim(t, s, failed.ID, lease(workerA, 10, 100))
	mustFinish(t, s, failed.ID, workerA, failure(30))

	checkFiles(t, "CommandFiles(rich)", mustCommandFiles(t, s, rich.ID), want[0], want[1])
	checkFiles(t, "CommandFiles(plain)", mustCommandFiles(t, s, plain.ID), want[2])
	// Several ids, across accounts, with ids that have no files.
	checkFiles(t, "CommandFiles(rich, failed, plain, queued, unknown)",
		mustCommandFiles(t, s, rich.ID, failed.ID, plain.ID, queued.ID, uuid.NewString()), want...)
	checkFiles(t, "CommandFiles(queued, unknown)", mustCommandFiles(t, s, queued.ID, uuid.NewString()))
	checkFiles(t, "CommandFiles()", mustCommandFiles(t, s))
}

func testGetFileUnknown(t *testing.T, s store.Store) {
	_, err := s.GetFile(t.Context(), uuid.NewString())
	checkErr(t, "GetFile(unknown id) on an empty store", err, store.ErrNotFound)
	a := mustAccount(t, s, "acme")
	finishedCommand(t, s, a.ID, store.StatusSuccess)
	_, err = s.GetFile(t.Context(), uuid.NewString())
	checkErr(t, "GetFile(unknown id)", err, store.ErrNotFound)
}

// SUCCESS and FAILED are final: no claim, at any later time, and no lease
// call by the last owner or anyone else moves the command again.
func testStatusOnlyMovesForward(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "acme")
	for _, status := range []store.Status{store.StatusSuccess, store.StatusFailed} {
		c := finishedCommand(t, s, a.ID, status) // claimed by workerA at 10 until 40, finished at 20
		what := func(call string) string { return call + " of a " + string(status) + " command" }

		for _, sec := range []int{20, 40, 3600, 365 * 24 * 3600} {
			for _, owner := range []string{workerA, workerB} {
				_, err := s.ClaimCommand(ctx, c.ID, lease(owner, sec, sec+30))
				checkErr(t, what("ClaimCommand"), err, store.ErrNotClaimable)
			}
		}
		for _, owner := range []string{workerA, workerB, ""} {
			err := s.RenewLease(ctx, c.ID, store.Lease{Owner: owner, Now: at(30), ExpiresAt: at(60)})
			checkErr(t, what("RenewLease by "+showOwner(owner)), err, store.ErrLeaseLost)
			err = s.ReleaseCommand(ctx, c.ID, owner, at(30))
			checkErr(t, what("ReleaseCommand by "+showOwner(owner)), err, store.ErrLeaseLost)
			err = s.FinishCommand(ctx, c.ID, owner, failure(30))
			checkErr(t, what("FinishCommand by "+showOwner(owner)), err, store.ErrLeaseLost)
		}
		n, err := s.ExpireLeases(ctx, nodeOf(workerA), at(30))
		if err != nil || n != 0 {
			t.Errorf("%s = %d, %v; want 0 (a finished command holds no lease)", what("ExpireLeases of the owner"), n, err)
		}
		ids, err := s.ClaimableCommands(ctx, at(365*24*3600), "", 100)
		if err != nil {
			t.Fatalf("ClaimableCommands: %v", err)
		}
		for _, id := range ids {
			if id == c.ID {
				t.Errorf("ClaimableCommands a year later lists a %s command", status)
			}
		}
		checkUnchanged(t, s, what("every call"), c)
	}
}
