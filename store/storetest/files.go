package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func fileTests() []test {
	return []test{
		{"CreateGetRoundTrip", testFileRoundTrip},
		{"CreateDuplicateID", testFileDuplicate},
		{"ListNewestFirstByAccount", testListFiles},
		{"FinishStored", testFinishFileStored},
		{"FinishFailed", testFinishFileFailed},
		{"FinishTwiceConflicts", testFinishFileTwice},
		{"FinishUnknown", testFinishFileUnknown},
		{"FinishAfterDeleteConflicts", testFinishFileAfterDelete},
		{"FailStale", testFailStaleFiles},
		{"DeleteKeepsRecord", testDeleteFile},
		{"DeleteTwiceNotFound", testDeleteFileTwice},
		{"DeleteCommandFiles", testDeleteCommandFiles},
		{"DeleteCreatedBefore", testDeleteFilesCreatedBefore},
		{"UnpurgedUntilMarked", testUnpurged},
		{"DeleteRaceEachFileOnce", testDeleteRace},
	}
}

// processingFile returns, without storing it, a PROCESSING file of the
// account fetched from a URL, created at second createdAt.
func processingFile(accountID string, createdAt int) *store.File {
	id := uuid.NewString()
	return &store.File{
		ID:          id,
		AccountID:   accountID,
		FileName:    "in.mp4",
		BlobKey:     "files/" + id + "/in.mp4",
		Status:      store.FileProcessing,
		OriginalURL: "https://example.com/in.mp4?sig=a&b=c",
		CreatedAt:   at(createdAt),
		UpdatedAt:   at(createdAt),
	}
}

func mustCreateFile(t *testing.T, s store.Store, f *store.File) *store.File {
	t.Helper()
	if err := s.CreateFile(t.Context(), cloneFile(f)); err != nil {
		t.Fatalf("CreateFile(%s): %v", f.ID, err)
	}
	return f
}

func fileIDSet(fs []*store.File) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		m[f.ID] = true
	}
	return m
}

func testFileRoundTrip(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	checkFile(t, "GetFile after CreateFile", mustGetFile(t, s, f.ID), f)
	// A file stored at once (an upload) keeps every field too.
	g := processingFile(a.ID, 2)
	g.Status, g.SizeBytes, g.Info, g.OriginalURL = store.FileStored, 5_000_000_123, videoInfo(), ""
	mustCreateFile(t, s, g)
	checkFile(t, "GetFile of a stored upload", mustGetFile(t, s, g.ID), g)
}

func testFileDuplicate(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	dup := processingFile(a.ID, 2)
	dup.ID = f.ID
	checkErr(t, "CreateFile with an existing id", s.CreateFile(t.Context(), dup), store.ErrConflict)
	checkFile(t, "the first file after the duplicate", mustGetFile(t, s, f.ID), f)
}

func testListFiles(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "other")
	var mine []*store.File
	for i := 0; i < 5; i++ {
		mine = append(mine, mustCreateFile(t, s, processingFile(a.ID, i)))
	}
	mustCreateFile(t, s, processingFile(b.ID, 10))
	// Command outputs are files of the account too.
	c := finishedCommand(t, s, a.ID, store.StatusSuccess)
	out := mustCommandFiles(t, s, c.ID)[0]

	got, err := s.ListFiles(t.Context(), store.FileQuery{AccountID: a.ID, Limit: 100})
	if err != nil {
		t.Fatalf("ListFiles: %v", err)
	}
	want := []string{out.ID, mine[4].ID, mine[3].ID, mine[2].ID, mine[1].ID, mine[0].ID}
	if ids := fileIDs(got); !equalStrings(ids, want) {
		t.Errorf("ListFiles = %v, want newest first %v", ids, want)
	}
	page, err := s.ListFiles(t.Context(), store.FileQuery{AccountID: a.ID, Limit: 2, Offset: 2})
	if err != nil {
		t.Fatalf("ListFiles page: %v", err)
	}
	if ids := fileIDs(page); !equalStrings(ids, want[2:4]) {
		t.Errorf("ListFiles(limit 2, offset 2) = %v, want %v", ids, want[2:4])
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testFinishFileStored(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	r := store.FileResult{Status: store.FileStored, SizeBytes: 5_000_000_123, Info: videoInfo(), Now: at(5)}
	if err := s.FinishFile(t.Context(), f.ID, r); err != nil {
		t.Fatalf("FinishFile: %v", err)
	}
	want := cloneFile(f)
	want.Status, want.SizeBytes, want.Info, want.UpdatedAt = store.FileStored, r.SizeBytes, videoInfo(), at(5)
	checkFile(t, "after FinishFile(STORED)", mustGetFile(t, s, f.ID), want)
}

func testFinishFileFailed(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	r := store.FileResult{Status: store.FileFailed, ErrorStatus: "INVALID_INPUT_FILE", ErrorMessage: "not media", Now: at(5)}
	if err := s.FinishFile(t.Context(), f.ID, r); err != nil {
		t.Fatalf("FinishFile: %v", err)
	}
	want := cloneFile(f)
	want.Status, want.ErrorStatus, want.ErrorMessage, want.UpdatedAt = store.FileFailed, r.ErrorStatus, r.ErrorMessage, at(5)
	checkFile(t, "after FinishFile(FAILED)", mustGetFile(t, s, f.ID), want)
}

func testFinishFileTwice(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	if err := s.FinishFile(t.Context(), f.ID, store.FileResult{Status: store.FileStored, SizeBytes: 7, Now: at(5)}); err != nil {
		t.Fatalf("FinishFile: %v", err)
	}
	err := s.FinishFile(t.Context(), f.ID, store.FileResult{Status: store.FileFailed, ErrorStatus: "X", Now: at(6)})
	checkErr(t, "a second FinishFile", err, store.ErrConflict)
	if got := mustGetFile(t, s, f.ID); got.Status != store.FileStored || got.SizeBytes != 7 {
		t.Errorf("after a refused second FinishFile: status %s size %d, want STORED 7", got.Status, got.SizeBytes)
	}
}

func testFinishFileUnknown(t *testing.T, s store.Store) {
	err := s.FinishFile(t.Context(), uuid.NewString(), store.FileResult{Status: store.FileStored, Now: at(1)})
	checkErr(t, "FinishFile of an unknown id", err, store.ErrNotFound)
}

func testFinishFileAfterDelete(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	if _, err := s.DeleteFile(t.Context(), f.ID, at(2)); err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
	err := s.FinishFile(t.Context(), f.ID, store.FileResult{Status: store.FileStored, SizeBytes: 9, Now: at(3)})
	checkErr(t, "FinishFile of a file deleted while it was fetched", err, store.ErrConflict)
	if got := mustGetFile(t, s, f.ID); !got.IsDeleted || got.Status != store.FileProcessing {
		t.Errorf("after FinishFile of a deleted file: deleted %v status %s, want deleted and untouched", got.IsDeleted, got.Status)
	}
}

func testDeleteFile(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	got, err := s.DeleteFile(t.Context(), f.ID, at(4))
	if err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
	want := cloneFile(f)
	want.IsDeleted, want.UpdatedAt = true, at(4)
	checkFile(t, "DeleteFile's answer", got, want)
	checkFile(t, "GetFile after DeleteFile", mustGetFile(t, s, f.ID), want)
}

func testDeleteFileTwice(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f := mustCreateFile(t, s, processingFile(a.ID, 1))
	if _, err := s.DeleteFile(t.Context(), f.ID, at(2)); err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
	_, err := s.DeleteFile(t.Context(), f.ID, at(3))
	checkErr(t, "a second DeleteFile", err, store.ErrNotFound)
	_, err = s.DeleteFile(t.Context(), uuid.NewString(), at(3))
	checkErr(t, "DeleteFile of an unknown id", err, store.ErrNotFound)
	if got := mustGetFile(t, s, f.ID); !sameTime(got.UpdatedAt, at(2)) {
		t.Errorf("a refused second delete changed UpdatedAt to %s", showTime(got.UpdatedAt))
	}
}

func testDeleteCommandFiles(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	c := mustCreate(t, s, richCommand(a.ID, at(0)))
	mustClaim(t, s, c.ID, lease(workerA, 10, 40))
	video, image := twoFiles(c) // image is already deleted
	mustFinish(t, s, c.ID, workerA, success(30, video, image))
	other := finishedCommand(t, s, a.ID, store.StatusSuccess)

	got, err := s.DeleteCommandFiles(t.Context(), c.ID, at(50))
	if err != nil {
		t.Fatalf("DeleteCommandFiles: %v", err)
	}
	if ids := fileIDs(got); len(ids) != 1 || ids[0] != video.ID {
		t.Errorf("DeleteCommandFiles = %v, want only the live file %s", ids, video.ID)
	}
	if !mustGetFile(t, s, video.ID).IsDeleted {
		t.Error("the command's file is not marked deleted")
	}
	if mustCommandFiles(t, s, other.ID)[0].IsDeleted {
		t.Error("another command's file was marked deleted")
	}
	again, err := s.DeleteCommandFiles(t.Context(), c.ID, at(51))
	if err != nil || len(again) != 0 {
		t.Errorf("a second DeleteCommandFiles = %v, %v; want none, nil", fileIDs(again), err)
	}
	none, err := s.DeleteCommandFiles(t.Context(), uuid.NewString(), at(51))
	if err != nil || len(none) != 0 {
		t.Errorf("DeleteCommandFiles of an unknown command = %v, %v; want none, nil", fileIDs(none), err)
	}
}

func testDeleteFilesCreatedBefore(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "other")
	old1 := mustCreateFile(t, s, processingFile(a.ID, 1))
	old2 := mustCreateFile(t, s, processingFile(b.ID, 2)) // retention is for every account
	old3 := mustCreateFile(t, s, processingFile(a.ID, 3))
	young := mustCreateFile(t, s, processingFile(a.ID, 10))
	gone := mustCreateFile(t, s, processingFile(a.ID, 0))
	if _, err := s.DeleteFile(t.Context(), gone.ID, at(5)); err != nil {
		t.Fatal(err)
	}

	first, err := s.DeleteFilesCreatedBefore(t.Context(), at(10), at(20), 2)
	if err != nil {
		t.Fatalf("DeleteFilesCreatedBefore: %v", err)
	}
	if ids := fileIDSet(first); len(first) != 2 || !ids[old1.ID] || !ids[old2.ID] {
		t.Errorf("first page = %v, want the two oldest live files %s %s", fileIDs(first), old1.ID, old2.ID)
	}
	rest, err := s.DeleteFilesCreatedBefore(t.Context(), at(10), at(20), 2)
	if err != nil {
		t.Fatalf("DeleteFilesCreatedBefore: %v", err)
	}
	if ids := fileIDs(rest); len(ids) != 1 || ids[0] != old3.ID {
		t.Errorf("second page = %v, want %s only", ids, old3.ID)
	}
	for _, f := range rest {
		if !f.IsDeleted || !sameTime(f.UpdatedAt, at(20)) {
			t.Errorf("returned file %s: deleted %v updated %s, want deleted at %s", f.ID, f.IsDeleted, showTime(f.UpdatedAt), showTime(at(20)))
		}
	}
	if mustGetFile(t, s, young.ID).IsDeleted {
		t.Error("a file created at the cutoff was deleted")
	}
}

func testUnpurged(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	f1 := mustCreateFile(t, s, processingFile(a.ID, 1))
	f2 := mustCreateFile(t, s, processingFile(a.ID, 2))
	mustCreateFile(t, s, processingFile(a.ID, 3)) // live: never listed
	for i, f := range []*store.File{f1, f2} {
		if _, err := s.DeleteFile(t.Context(), f.ID, at(10+i)); err != nil {
			t.Fatal(err)
		}
	}
	unpurged := func(before int) []string {
		t.Helper()
		fs, err := s.UnpurgedFiles(t.Context(), at(before), 10)
		if err != nil {
			t.Fatalf("UnpurgedFiles: %v", err)
		}
		return fileIDs(fs)
	}
	if got := unpurged(10); !equalStrings(got, []string{f1.ID}) {
		t.Errorf("UnpurgedFiles(before the second delete) = %v, want %s", got, f1.ID)
	}
	if got := unpurged(100); len(got) != 2 {
		t.Errorf("UnpurgedFiles = %v, want both deleted files", got)
	}
	if err := s.MarkPurged(t.Context(), f1.ID); err != nil {
		t.Fatalf("MarkPurged: %v", err)
	}
	if got := unpurged(100); !equalStrings(got, []string{f2.ID}) {
		t.Errorf("UnpurgedFiles after MarkPurged(%s) = %v, want %s", f1.ID, got, f2.ID)
	}
	if err := s.MarkPurged(t.Context()); err != nil {
		t.Errorf("MarkPurged of nothing: %v", err)
	}
}

// testDeleteRace: several engine processes sweep for expired files and
// delete through the API at once; each file is handed to exactly one of
// them, so its bytes are deleted by one caller and counted once.
func testDeleteRace(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	var all []*store.File
	for i := 0; i < 40; i++ {
		all = append(all, mustCreateFile(t, s, processingFile(a.ID, i)))
	}
	var (
		mu  sync.Mutex
		got = map[string]int{}
		wg  sync.WaitGroup
	)
	record := func(fs ...*store.File) {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range fs {
			got[f.ID]++
		}
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				fs, err := s.DeleteFilesCreatedBefore(t.Context(), at(100), at(200), 3)
				if err != nil {
					t.Errorf("DeleteFilesCreatedBefore: %v", err)
					return
				}
				if len(fs) == 0 {
					return
				}
				record(fs...)
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range all {
				d, err := s.DeleteFile(t.Context(), f.ID, at(200))
				if err == nil {
					record(d)
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("DeleteFile: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range all {
		if got[f.ID] != 1 {
			t.Errorf("file %s was handed to %d deleters, want exactly 1", f.ID, got[f.ID])
		}
	}
}

func testFailStaleFiles(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	stale := mustCreateFile(t, s, processingFile(a.ID, 1))
	fresh := mustCreateFile(t, s, processingFile(a.ID, 10))
	done := mustCreateFile(t, s, processingFile(a.ID, 1))
	if err := s.FinishFile(t.Context(), done.ID, store.FileResult{Status: store.FileStored, SizeBytes: 3, Now: at(2)}); err != nil {
		t.Fatal(err)
	}
	r := store.FileResult{Status: store.FileFailed, ErrorStatus: "INTERNAL_ERROR", ErrorMessage: "lost", Now: at(20)}
	failed, err := s.FailStaleFiles(t.Context(), at(10), r)
	if err != nil || len(failed) != 1 || failed[0].ID != stale.ID || failed[0].BlobKey != stale.BlobKey {
		t.Fatalf("FailStaleFiles = %v, %v; want the stale file, nil", failed, err)
	}
	want := cloneFile(stale)
	want.Status, want.ErrorStatus, want.ErrorMessage, want.UpdatedAt = store.FileFailed, "INTERNAL_ERROR", "lost", at(20)
	checkFile(t, "the stale file", mustGetFile(t, s, stale.ID), want)
	if got := mustGetFile(t, s, fresh.ID); got.Status != store.FileProcessing {
		t.Errorf("a file updated at the cutoff is %s, want PROCESSING", got.Status)
	}
	if got := mustGetFile(t, s, done.ID); got.Status != store.FileStored {
		t.Errorf("a stored file is %s after FailStaleFiles, want STORED", got.Status)
	}
}
