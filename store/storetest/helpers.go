package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/store"
)

// base is the suite's epoch; every time the suite passes is base plus whole
// seconds (see at), except where a subtest is about precision or locations.
var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// at returns base plus the given number of seconds.
func at(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }

// lease returns a lease for owner taken at second now that expires at second
// expires (both counted from base).
func lease(owner string, now, expires int) store.Lease {
	return store.Lease{Owner: owner, Node: nodeOf(owner), Now: at(now), ExpiresAt: at(expires)}
}

// nodeOf is the engine process each worker of the suite belongs to; every
// worker has its own, except where a subtest builds leases by hand to put
// two claims on one node.
func nodeOf(owner string) string { return "node-of-" + owner }

// Owners, as workers name themselves.
const (
	workerA = "worker-a"
	workerB = "worker-b"
	workerC = "worker-c"
)

// ---- fixtures ----

// mustAccount ensures an account with the given name.
func mustAccount(t *testing.T, s store.Store, name string) *store.Account {
	t.Helper()
	a, err := s.EnsureAccount(t.Context(), name, base)
	if err != nil {
		t.Fatalf("EnsureAccount(%q): %v", name, err)
	}
	if a == nil || a.ID == "" {
		t.Fatalf("EnsureAccount(%q) returned %+v, want an account with an ID", name, a)
	}
	return a
}

// newCommand returns, without storing it, a QUEUED single command of the
// account created at createdAt, with one declared output.
func newCommand(accountID string, createdAt time.Time) *store.Command {
	return &store.Command{
		ID:        uuid.NewString(),
		AccountID: accountID,
		Type:      store.TypeFFmpegCommand,
		Status:    store.StatusQueued,
		Request:   json.RawMessage(`{"input_files":{"in_1":"https://example.com/in.mp4"},"output_files":{"out_1":"out.mp4"},"ffmpeg_commands":["-i {{in_1}} {{out_1}}"]}`),
		Spec: store.CommandSpec{
			InputFiles:     map[string]string{"in_1": "https://example.com/in.mp4"},
			OutputFiles:    map[string]string{"out_1": "out.mp4"},
			FFmpegCommands: []string{"-i {{in_1}} {{out_1}}"},
			MaxRunSeconds:  600,
		},
		Outputs:   []store.OutputRef{{Alias: "out_1", FileID: uuid.NewString(), FileName: "out.mp4"}},
		CreatedAt: createdAt,
		UpdatedAt: createdAt,
	}
}

// mustCreate stores c.
func mustCreate(t *testing.T, s store.Store, c *store.Command) *store.Command {
	t.Helper()
	if err := s.CreateCommand(t.Context(), c); err != nil {
		t.Fatalf("CreateCommand(%s): %v", c.ID, err)
	}
	return c
}

// create makes and stores a new QUEUED command of the account, created at
// second createdAt.
func create(t *testing.T, s store.Store, accountID string, createdAt int) *store.Command {
	t.Helper()
	return mustCreate(t, s, newCommand(accountID, at(createdAt)))
}

// mustGet reads a command back.
func mustGet(t *testing.T, s store.Store, id string) *store.Command {
	t.Helper()
	c, err := s.GetCommand(t.Context(), id)
	if err != nil {
		t.Fatalf("GetCommand(%s): %v", id, err)
	}
	if c == nil {
		t.Fatalf("GetCommand(%s) returned nil and no error", id)
	}
	return c
}

// mustClaim claims a command and returns what ClaimCommand returned.
func mustClaim(t *testing.T, s store.Store, id string, l store.Lease) *store.Command {
	t.Helper()
	c, err := s.ClaimCommand(t.Context(), id, l)
	if err != nil {
		t.Fatalf("ClaimCommand(%s, owner %s at %s): %v", id, l.Owner, showTime(l.Now), err)
	}
	if c == nil {
		t.Fatalf("ClaimCommand(%s) returned nil and no error", id)
	}
	return c
}

// mustFinish records an outcome.
func mustFinish(t *testing.T, s store.Store, id, owner string, o store.Outcome) {
	t.Helper()
	if err := s.FinishCommand(t.Context(), id, owner, o); err != nil {
		t.Fatalf("FinishCommand(%s, owner %s, %s): %v", id, owner, o.Status, err)
	}
}

// success is a SUCCESS outcome finished at second finishedAt.
func success(finishedAt int, files ...*store.File) store.Outcome {
	return store.Outcome{
		Status:                 store.StatusSuccess,
		TotalProcessingSeconds: 12.5,
		FFmpegRunSeconds:       9.25,
		Files:                  files,
		FinishedAt:             at(finishedAt),
	}
}

// failure is a FAILED outcome finished at second finishedAt.
func failure(finishedAt int) store.Outcome {
	return store.Outcome{
		Status:                 store.StatusFailed,
		ErrorStatus:            "ffmpeg_failed",
		ErrorMessage:           "ffmpeg exited with status 1: Invalid data found when processing input",
		TotalProcessingSeconds: 3.5,
		FFmpegRunSeconds:       0.75,
		FinishedAt:             at(finishedAt),
	}
}

// finishedCommand stores a command of the account and runs it to the given
// final status under workerA: created at 0, claimed at 10, finished at 20.
func finishedCommand(t *testing.T, s store.Store, accountID string, status store.Status) *store.Command {
	t.Helper()
	c := create(t, s, accountID, 0)
	mustClaim(t, s, c.ID, lease(workerA, 10, 40))
	o := failure(20)
	if status == store.StatusSuccess {
		o = success(20, outputFile(c, 0, at(20)))
	}
	mustFinish(t, s, c.ID, workerA, o)
	return mustGet(t, s, c.ID)
}

// outputFile returns the file record of c's i-th declared output, with every
// field set, as a worker records it at finishedAt.
func outputFile(c *store.Command, i int, finishedAt time.Time) *store.File {
	out := c.Outputs[i]
	return &store.File{
		ID:        out.FileID,
		AccountID: c.AccountID,
		CommandID: c.ID,
		Alias:     out.Alias,
		FileName:  out.FileName,
		BlobKey:   "accounts/" + c.AccountID + "/files/" + out.FileID + "/" + out.FileName,
		Status:    store.FileStored,
		SizeBytes: 5_000_000_123, // more than 32 bits
		Info:      videoInfo(),
		CreatedAt: finishedAt,
		UpdatedAt: finishedAt,
	}
}

// videoInfo sets every fact media.Info has.
func videoInfo() media.Info {
	return media.Info{
		Duration:       ptr(12.345),
		FileType:       "video",
		FileFormat:     "mp4",
		MimeType:       "video/mp4",
		Codec:          "h264",
		PixelFormat:    "yuv420p",
		Width:          ptr(1920),
		Height:         ptr(1080),
		FrameRate:      ptr(29.97),
		BitrateVideoKb: ptr(4500.5),
		BitrateAudioKb: ptr(128.0),
		SampleRate:     ptr(48000),
		Channels:       ptr(2),
	}
}

// imageInfo leaves out the facts that do not apply to a still image; they
// must come back absent (nil), not as zero.
func imageInfo() media.Info {
	return media.Info{
		FileType:    "image",
		FileFormat:  "png",
		MimeType:    "image/png",
		Codec:       "png",
		PixelFormat: "rgba",
		Width:       ptr(640),
		Height:      ptr(480),
	}
}

func ptr[T any](v T) *T { return &v }

// ---- expected states ----

// claimed is c as a claim under l leaves it.
func claimed(c *store.Command, l store.Lease, attempts, lostLeases int) *store.Command {
	w := *c
	w.Status = store.StatusProcessing
	w.LeaseOwner = l.Owner
	w.LeaseNode = l.Node
	w.LeaseExpiresAt = l.ExpiresAt
	w.ClaimedAt = l.Now
	w.UpdatedAt = l.Now
	w.Attempts = attempts
	w.LostLeases = lostLeases
	return &w
}

// finished is c as FinishCommand with o leaves it. The lease ends: the owner
// is cleared. What LeaseExpiresAt reads after a finish is not part of the
// contract, so the caller copies it from what it got.
func finished(c *store.Command, o store.Outcome) *store.Command {
	w := *c
	w.Status = o.Status
	w.ErrorStatus = o.ErrorStatus
	w.ErrorMessage = o.ErrorMessage
	w.TotalProcessingSeconds = ptr(o.TotalProcessingSeconds)
	w.FFmpegRunSeconds = ptr(o.FFmpegRunSeconds)
	w.FinishedAt = o.FinishedAt
	w.UpdatedAt = o.FinishedAt
	w.LeaseOwner = ""
	w.LeaseNode = ""
	return &w
}

// cloneCommand deep-copies c, so that a later change to c (or to what a
// store returned) cannot change the copy.
func cloneCommand(c *store.Command) *store.Command {
	w := *c
	w.Request = bytes.Clone(c.Request)
	w.Spec.InputFiles = cloneMap(c.Spec.InputFiles)
	w.Spec.OutputFiles = cloneMap(c.Spec.OutputFiles)
	w.Spec.FFmpegCommands = slices.Clone(c.Spec.FFmpegCommands)
	w.Spec.Metadata = cloneMap(c.Spec.Metadata)
	w.Outputs = slices.Clone(c.Outputs)
	if c.TotalProcessingSeconds != nil {
		w.TotalProcessingSeconds = ptr(*c.TotalProcessingSeconds)
	}
	if c.FFmpegRunSeconds != nil {
		w.FFmpegRunSeconds = ptr(*c.FFmpegRunSeconds)
	}
	return &w
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// cloneFile deep-copies f, including the facts behind Info's pointers.
func cloneFile(f *store.File) *store.File {
	w := *f
	var info media.Info
	b, _ := json.Marshal(f.Info)
	_ = json.Unmarshal(b, &info)
	w.Info = info
	return &w
}

// ---- comparisons ----

// sameTime reports whether a time read back matches the one written: the same
// instant, allowing the store microsecond precision. A zero time must come
// back zero.
func sameTime(got, want time.Time) bool {
	if got.IsZero() || want.IsZero() {
		return got.IsZero() && want.IsZero()
	}
	d := got.Sub(want)
	return d > -time.Microsecond && d < time.Microsecond
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return t.Format(time.RFC3339Nano)
}

// differ collects the fields in which a record differs from what was expected.
type differ struct{ diffs []string }

func (d *differ) add(field string, got, want any) {
	d.diffs = append(d.diffs, fmt.Sprintf("%s = %v, want %v", field, got, want))
}

func (d *differ) str(field, got, want string) {
	if got != want {
		d.add(field, fmt.Sprintf("%q", got), fmt.Sprintf("%q", want))
	}
}

func (d *differ) num(field string, got, want any) {
	if got != want {
		d.add(field, got, want)
	}
}

func (d *differ) time(field string, got, want time.Time) {
	if !sameTime(got, want) {
		d.add(field, showTime(got), showTime(want))
	}
}

func (d *differ) floatPtr(field string, got, want *float64) {
	show := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	if (got == nil) != (want == nil) || (got != nil && *got != *want) {
		d.add(field, show(got), show(want))
	}
}

// json compares two JSON texts by meaning, not by spelling: a store may
// re-encode JSON it keeps.
func (d *differ) json(field string, got, want []byte) {
	var g, w any
	errG := json.Unmarshal(got, &g)
	errW := json.Unmarshal(want, &w)
	if errW != nil {
		panic(fmt.Sprintf("storetest: bad expected JSON for %s: %v", field, errW))
	}
	if errG != nil || !reflect.DeepEqual(g, w) {
		d.add(field, string(got), string(want))
	}
}

func (d *differ) report(t *testing.T, what string) {
	t.Helper()
	if len(d.diffs) > 0 {
		t.Errorf("%s:\n\t%s", what, strings.Join(d.diffs, "\n\t"))
	}
}

// checkCommand reports every field in which got differs from want.
func checkCommand(t *testing.T, what string, got, want *store.Command) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got no command, want %s", what, want.ID)
		return
	}
	var d differ
	d.str("ID", got.ID, want.ID)
	d.str("AccountID", got.AccountID, want.AccountID)
	d.str("Type", string(got.Type), string(want.Type))
	d.str("Status", string(got.Status), string(want.Status))
	d.json("Request", got.Request, want.Request)
	gotSpec, _ := json.Marshal(got.Spec)
	wantSpec, _ := json.Marshal(want.Spec)
	d.json("Spec", gotSpec, wantSpec)
	if !(len(got.Outputs) == 0 && len(want.Outputs) == 0) && !reflect.DeepEqual(got.Outputs, want.Outputs) {
		d.add("Outputs", fmt.Sprintf("%+v", got.Outputs), fmt.Sprintf("%+v", want.Outputs))
	}
	d.str("ErrorStatus", got.ErrorStatus, want.ErrorStatus)
	d.str("ErrorMessage", got.ErrorMessage, want.ErrorMessage)
	d.floatPtr("TotalProcessingSeconds", got.TotalProcessingSeconds, want.TotalProcessingSeconds)
	d.floatPtr("FFmpegRunSeconds", got.FFmpegRunSeconds, want.FFmpegRunSeconds)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	d.time("ClaimedAt", got.ClaimedAt, want.ClaimedAt)
	d.time("FinishedAt", got.FinishedAt, want.FinishedAt)
	d.str("LeaseOwner", got.LeaseOwner, want.LeaseOwner)
	d.str("LeaseNode", got.LeaseNode, want.LeaseNode)
	d.time("LeaseExpiresAt", got.LeaseExpiresAt, want.LeaseExpiresAt)
	d.num("Attempts", got.Attempts, want.Attempts)
	d.num("LostLeases", got.LostLeases, want.LostLeases)
	d.report(t, fmt.Sprintf("%s: command %s differs", what, want.ID))
}

// checkFile reports every field in which got differs from want.
func checkFile(t *testing.T, what string, got, want *store.File) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got no file, want %s", what, want.ID)
		return
	}
	var d differ
	d.str("ID", got.ID, want.ID)
	d.str("AccountID", got.AccountID, want.AccountID)
	d.str("CommandID", got.CommandID, want.CommandID)
	d.str("Alias", got.Alias, want.Alias)
	d.str("FileName", got.FileName, want.FileName)
	d.str("BlobKey", got.BlobKey, want.BlobKey)
	d.str("Status", string(got.Status), string(want.Status))
	d.num("SizeBytes", got.SizeBytes, want.SizeBytes)
	if !reflect.DeepEqual(got.Info, want.Info) {
		g, _ := json.Marshal(got.Info)
		w, _ := json.Marshal(want.Info)
		d.add("Info", string(g), string(w))
	}
	d.num("IsDeleted", got.IsDeleted, want.IsDeleted)
	d.str("OriginalURL", got.OriginalURL, want.OriginalURL)
	d.str("ErrorStatus", got.ErrorStatus, want.ErrorStatus)
	d.str("ErrorMessage", got.ErrorMessage, want.ErrorMessage)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	d.report(t, fmt.Sprintf("%s: file %s differs", what, want.ID))
}

// checkFiles compares a set of files, in any order, by id.
func checkFiles(t *testing.T, what string, got []*store.File, want ...*store.File) {
	t.Helper()
	byID := map[string]*store.File{}
	for _, f := range got {
		if f == nil {
			t.Errorf("%s: got a nil file", what)
			continue
		}
		if byID[f.ID] != nil {
			t.Errorf("%s: file %s returned twice", what, f.ID)
		}
		byID[f.ID] = f
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d files %v, want %d %v", what, len(got), fileIDs(got), len(want), fileIDs(want))
	}
	for _, w := range want {
		if g := byID[w.ID]; g == nil {
			t.Errorf("%s: file %s missing", what, w.ID)
		} else {
			checkFile(t, what, g, w)
		}
	}
}

// checkErr reports err unless it matches target.
func checkErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// checkUnchanged reports whether a command still reads as before.
func checkUnchanged(t *testing.T, s store.Store, what string, before *store.Command) {
	t.Helper()
	checkCommand(t, what+" (the command must not change)", mustGet(t, s, before.ID), before)
}

func commandIDs(cs []*store.Command) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		if c != nil {
			ids[i] = c.ID
		}
	}
	return ids
}

func fileIDs(fs []*store.File) []string {
	ids := make([]string, len(fs))
	for i, f := range fs {
		if f != nil {
			ids[i] = f.ID
		}
	}
	return ids
}

// newestFirst sorts commands as ListCommands returns them: by CreatedAt,
// newest first, and by id, descending, among commands created at the same
// instant.
func newestFirst(cs []*store.Command) []*store.Command {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b *store.Command) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return cs
}

// checkIDs reports a list of ids that differs from the expected one, in order.
func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n\tgot  %v\n\twant %v", what, got, want)
	}
}
