package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openrender/openrender/store"
)

func presetTests() []test {
	return []test{
		{"CreateGetRoundTrip", testPresetRoundTrip},
		{"GetUnknown", testPresetGetUnknown},
		{"CreateDuplicateIDConflicts", testPresetDuplicateID},
		{"ListByAccountNewestFirstWithPaging", testPresetList},
		{"UpdateReplacesFields", testPresetUpdate},
		{"Delete", testPresetDelete},
	}
}

func newPreset(accountID string, createdAt time.Time) *store.Preset {
	return &store.Preset{
		ID:             "prs_" + uuid.NewString(),
		AccountID:      accountID,
		Name:           "Zoë's 720p \"fast\" 😀",
		Description:    "scale & encode",
		CommandType:    store.TypeChainedCommand,
		FFmpegCommands: []string{"-i {{in_video}} -vf scale=-2:720 tmp.mp4", "-i tmp.mp4 {{out_video}}"},
		InputFileKeys:  []string{"in_video"},
		OutputFiles:    map[string]string{"out_video": "720p.mp4"},
		Metadata:       map[string]any{"team": "a", "n": json.Number("12345678901234567890"), "ok": true},
		CreatedAt:      createdAt,
		UpdatedAt:      createdAt,
	}
}

func clonePreset(p *store.Preset) *store.Preset {
	c := *p
	c.FFmpegCommands = append([]string(nil), p.FFmpegCommands...)
	c.InputFileKeys = append([]string(nil), p.InputFileKeys...)
	c.OutputFiles = map[string]string{}
	for k, v := range p.OutputFiles {
		c.OutputFiles[k] = v
	}
	if p.Metadata != nil {
		c.Metadata = map[string]any{}
		for k, v := range p.Metadata {
			c.Metadata[k] = v
		}
	}
	return &c
}

func mustCreatePreset(t *testing.T, s store.Store, p *store.Preset) *store.Preset {
	t.Helper()
	want := clonePreset(p)
	if err := s.CreatePreset(t.Context(), p); err != nil {
		t.Fatalf("CreatePreset: %v", err)
	}
	return want
}

func checkPreset(t *testing.T, what string, got, want *store.Preset) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil preset", what)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s: times %v/%v, want %v/%v", what, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	g, w := *got, *want
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	// Metadata numbers may come back as json.Number or float64; compare
	// their text.
	g.Metadata, w.Metadata = normalNumbers(g.Metadata), normalNumbers(w.Metadata)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n\tgot  %+v\n\twant %+v", what, g, w)
	}
}

func normalNumbers(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			v = n.String()
		}
		out[k] = v
	}
	return out
}

func mustGetPreset(t *testing.T, s store.Store, id string) *store.Preset {
	t.Helper()
	p, err := s.GetPreset(t.Context(), id)
	if err != nil {
		t.Fatalf("GetPreset(%s): %v", id, err)
	}
	return p
}

func testPresetRoundTrip(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	want := mustCreatePreset(t, s, newPreset(a.ID, at(0)))
	checkPreset(t, "GetPreset after CreatePreset", mustGetPreset(t, s, want.ID), want)

	// A single command preset without metadata or description.
	single := newPreset(a.ID, at(1))
	single.CommandType, single.FFmpegCommands, single.Metadata, single.Description = store.TypeFFmpegCommand, []string{"-i {{in_video}} {{out_video}}"}, nil, ""
	w2 := mustCreatePreset(t, s, single)
	checkPreset(t, "GetPreset of a plain preset", mustGetPreset(t, s, single.ID), w2)
}

func testPresetGetUnknown(t *testing.T, s store.Store) {
	_, err := s.GetPreset(t.Context(), "prs_nothere")
	checkErr(t, "GetPreset(unknown)", err, store.ErrNotFound)
}

func testPresetDuplicateID(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	p := mustCreatePreset(t, s, newPreset(a.ID, at(0)))
	again := newPreset(a.ID, at(1))
	again.ID = p.ID
	again.Name = "other"
	checkErr(t, "CreatePreset with an existing id", s.CreatePreset(t.Context(), again), store.ErrConflict)
	checkPreset(t, "the first preset after a conflicting create", mustGetPreset(t, s, p.ID), p)
}

func testPresetList(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	b := mustAccount(t, s, "globex")
	var ids []string
	for i := range 5 {
		ids = append([]string{mustCreatePreset(t, s, newPreset(a.ID, at(i))).ID}, ids...) // newest first
	}
	mustCreatePreset(t, s, newPreset(b.ID, at(10)))
	page := func(limit, offset int) []string {
		got, err := s.ListPresets(t.Context(), store.PresetQuery{AccountID: a.ID, Limit: limit, Offset: offset})
		if err != nil {
			t.Fatalf("ListPresets: %v", err)
		}
		var out []string
		for _, p := range got {
			if p.AccountID != a.ID {
				t.Errorf("ListPresets of acme returned a preset of account %s", p.AccountID)
			}
			out = append(out, p.ID)
		}
		return out
	}
	checkIDs(t, "ListPresets limit 10", page(10, 0), ids)
	checkIDs(t, "ListPresets limit 2 offset 0", page(2, 0), ids[:2])
	checkIDs(t, "ListPresets limit 2 offset 2", page(2, 2), ids[2:4])
	checkIDs(t, "ListPresets limit 2 offset 4", page(2, 4), ids[4:])
	if got := page(2, 5); len(got) != 0 {
		t.Errorf("ListPresets past the end = %v, want none", got)
	}
}

func testPresetUpdate(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	orig := mustCreatePreset(t, s, newPreset(a.ID, at(0)))
	changed := clonePreset(orig)
	changed.Name, changed.Description = "renamed", ""
	changed.CommandType = store.TypeFFmpegCommand
	changed.FFmpegCommands = []string{"-i {{in_a}} -i {{in_b}} {{out_x}}"}
	changed.InputFileKeys = []string{"in_a", "in_b"}
	changed.OutputFiles = map[string]string{"out_x": "x.mkv"}
	changed.Metadata = nil
	changed.UpdatedAt = at(30)
	changed.AccountID = "someone-else" // ignored
	changed.CreatedAt = at(99)         // ignored
	if err := s.UpdatePreset(t.Context(), clonePreset(changed)); err != nil {
		t.Fatalf("UpdatePreset: %v", err)
	}
	want := clonePreset(changed)
	want.AccountID, want.CreatedAt = a.ID, orig.CreatedAt
	checkPreset(t, "GetPreset after UpdatePreset", mustGetPreset(t, s, orig.ID), want)

	missing := newPreset(a.ID, at(1))
	checkErr(t, "UpdatePreset of an unknown id", s.UpdatePreset(t.Context(), missing), store.ErrNotFound)
}

func testPresetDelete(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "acme")
	keep := mustCreatePreset(t, s, newPreset(a.ID, at(0)))
	gone := mustCreatePreset(t, s, newPreset(a.ID, at(1)))
	if err := s.DeletePreset(t.Context(), gone.ID); err != nil {
		t.Fatalf("DeletePreset: %v", err)
	}
	_, err := s.GetPreset(t.Context(), gone.ID)
	checkErr(t, "GetPreset after DeletePreset", err, store.ErrNotFound)
	checkErr(t, "DeletePreset twice", s.DeletePreset(t.Context(), gone.ID), store.ErrNotFound)
	checkPreset(t, "the other preset after a delete", mustGetPreset(t, s, keep.ID), keep)
	got, err := s.ListPresets(t.Context(), store.PresetQuery{AccountID: a.ID, Limit: 10})
	if err != nil || len(got) != 1 {
		t.Errorf("ListPresets after a delete = %d presets, %v; want 1", len(got), err)
	}
}
