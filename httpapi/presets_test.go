package httpapi_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/internal/testutil"
)

// Preset CRUD, execute with the right and wrong keys, metadata merged,
// system presets listed and immutable, and presets scoped to their account.
func TestPresets(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	other := s.otherKey(t)

	create := map[string]any{
		"name":                    "small preview",
		"description":             "1 s at 160x90",
		"ffmpeg_command":          "-i {{in_video}} -t 1 -vf scale=160:90 {{out_video}}",
		"input_file_keys":         []string{"in_video"},
		"output_file_definitions": map[string]any{"out_video": "p.mp4"},
		"metadata":                map[string]any{"team": "a", "tier": 1},
	}
	var p api.Preset
	if code := s.call(t, "POST", "/api/v1/presets", s.Key, create, &p); code != 201 || len(p.PresetID) < 5 || p.PresetID[:4] != "prs_" {
		t.Fatalf("create: %d %+v", code, p)
	}
	if p.IsSystem || p.CommandType != "FFMPEG_COMMAND" || p.Name != "small preview" || p.OutputFileDefinitions["out_video"] != "p.mp4" {
		t.Errorf("created preset %+v", p)
	}
	var got api.Preset
	if code := s.call(t, "GET", "/api/v1/presets/"+p.PresetID, s.Key, nil, &got); code != 200 || got.Description != "1 s at 160x90" {
		t.Errorf("get: %d %+v", code, got)
	}

	// Another account sees neither it nor can change, run or delete it.
	var e map[string]any
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/presets/" + p.PresetID}, {"PUT", "/api/v1/presets/" + p.PresetID},
		{"DELETE", "/api/v1/presets/" + p.PresetID}, {"POST", "/api/v1/presets/" + p.PresetID + "/execute"},
	} {
		if code := s.call(t, c.method, c.path, other, map[string]any{"input_files": map[string]any{"in_video": in}}, &e); code != 404 {
			t.Errorf("%s %s by another account: %d, want 404", c.method, c.path, code)
		}
	}
	var otherList api.PresetList
	s.call(t, "GET", "/api/v1/presets?limit=100", other, nil, &otherList)
	for _, op := range otherList.Presets {
		if op.PresetID == p.PresetID {
			t.Error("another account lists the preset")
		}
	}

	// Update: a subset; metadata replaces; invalid fields are 422.
	var u api.Preset
	if code := s.call(t, "PUT", "/api/v1/presets/"+p.PresetID, s.Key, map[string]any{"description": "d", "metadata": map[string]any{"team": "b"}}, &u); code != 200 {
		t.Fatalf("update: %d", code)
	}
	if u.Description != "d" || u.Name != "small preview" || len(u.Metadata) != 1 || u.Metadata["team"] != "b" || !time.Time(u.UpdatedAt).After(time.Time(p.CreatedAt)) {
		t.Errorf("updated preset %+v", u)
	}
	code := s.call(t, "PUT", "/api/v1/presets/"+p.PresetID, s.Key, map[string]any{"ffmpeg_command": "-i {{in_video}} -dump_attachment x {{out_video}}"}, &e)
	checkFieldError(t, "update to a forbidden option", code, e, "body", "ffmpeg_command", "-dump_attachment")
	code = s.call(t, "PUT", "/api/v1/presets/"+p.PresetID, s.Key, map[string]any{"input_file_keys": []string{"in_video", "in_unused"}}, &e)
	checkFieldError(t, "update to an unused input key", code, e, "body", "input_file_keys", "in_unused")
	code = s.call(t, "POST", "/api/v1/presets", s.Key, map[string]any{"ffmpeg_command": "-i {{in_video}} {{out_video}}"}, &e)
	checkFieldError(t, "create without a name", code, e, "body", "name")

	// Execute: keys must match exactly.
	for name, inputs := range map[string]map[string]any{
		"wrong key": {"in_wrong": in},
		"extra key": {"in_video": in, "in_extra": in},
		"no keys":   {},
	} {
		code := s.call(t, "POST", "/api/v1/presets/"+p.PresetID+"/execute", s.Key, map[string]any{"input_files": inputs}, &e)
		checkFieldError(t, "execute with "+name, code, e, "body", "input_files")
	}
	var cmd api.CommandID
	code = s.call(t, "POST", "/api/v1/presets/"+p.PresetID+"/execute", s.Key,
		map[string]any{"input_files": map[string]any{"in_video": in}, "metadata": map[string]any{"run": "x"}}, &cmd)
	if code != 200 || cmd.CommandID == "" {
		t.Fatalf("execute: %d", code)
	}
	obj := s.poll(t, cmd.CommandID, 60*time.Second)
	md, _ := obj["metadata"].(map[string]any)
	if obj["status"] != "SUCCESS" || md["team"] != "b" || md["run"] != "x" {
		t.Errorf("executed command %v, metadata %v; want SUCCESS with the merged metadata", obj["status"], md)
	}

	// The list: system presets first (every account sees them), then ours.
	var list api.PresetList
	s.call(t, "GET", "/api/v1/presets?limit=100", s.Key, nil, &list)
	system := 0
	for _, lp := range list.Presets {
		if lp.IsSystem {
			system++
		}
	}
	if system < 5 || len(list.Presets) != system+1 || list.Presets[len(list.Presets)-1].PresetID != p.PresetID {
		t.Errorf("list: %d presets, %d system; want the system presets then ours", len(list.Presets), system)
	}
	if len(otherList.Presets) != system {
		t.Errorf("another account lists %d presets, want the %d system ones", len(otherList.Presets), system)
	}
	var page api.PresetList
	s.call(t, "GET", "/api/v1/presets?limit=2&offset="+strconv.Itoa(system), s.Key, nil, &page)
	if len(page.Presets) != 1 || page.Presets[0].PresetID != p.PresetID {
		t.Errorf("the page after the system presets: %+v", page.Presets)
	}

	// System presets: readable, executable, immutable.
	sys := list.Presets[0]
	for _, c := range []struct{ method, path string }{{"PUT", "/api/v1/presets/" + sys.PresetID}, {"DELETE", "/api/v1/presets/" + sys.PresetID}} {
		if code := s.call(t, c.method, c.path, other, map[string]any{"description": "mine"}, &e); code != 403 {
			t.Errorf("%s of a system preset: %d, want 403", c.method, code)
		}
	}
	var again api.Preset
	s.call(t, "GET", "/api/v1/presets/"+sys.PresetID, other, nil, &again)
	if again.Description != sys.Description || !again.IsSystem {
		t.Errorf("a system preset after a refused change: %+v", again)
	}

	// Delete.
	var del api.PresetDeleted
	if code := s.call(t, "DELETE", "/api/v1/presets/"+p.PresetID, s.Key, nil, &del); code != 200 || !del.Deleted {
		t.Errorf("delete: %d %+v", code, del)
	}
	if code := s.call(t, "GET", "/api/v1/presets/"+p.PresetID, s.Key, nil, &e); code != 404 {
		t.Errorf("get after delete: %d", code)
	}
}

// Every system preset runs: each is executed on a real clip and succeeds.
func TestSystemPresetsRun(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	var list api.PresetList
	s.call(t, "GET", "/api/v1/presets?limit=100", s.Key, nil, &list)
	for _, p := range list.Presets {
		if !p.IsSystem {
			continue
		}
		inputs := map[string]any{}
		for _, k := range p.InputFileKeys {
			inputs[k] = in
		}
		var cmd api.CommandID
		if code := s.call(t, "POST", "/api/v1/presets/"+p.PresetID+"/execute", s.Key, map[string]any{"input_files": inputs}, &cmd); code != 200 {
			t.Errorf("%s: execute %d", p.PresetID, code)
			continue
		}
		if obj := s.poll(t, cmd.CommandID, 120*time.Second); obj["status"] != "SUCCESS" {
			t.Errorf("%s: %v %v", p.PresetID, obj["status"], obj["error_message"])
		}
	}
}
