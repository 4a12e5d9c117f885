package client_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// Preset CRUD and execution through the client.
func TestPresets(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()

	p, err := c.CreatePreset(ctx, client.PresetRequest{
		Name:                  "tone",
		Description:           "a short tone",
		FFmpegCommand:         "-i {{in_a}} -t 0.5 {{out_a}}",
		InputFileKeys:         []string{"in_a"},
		OutputFileDefinitions: map[string]string{"out_a": "tone.wav"},
		Metadata:              map[string]any{"team": "audio"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.PresetID == "" || p.Name != "tone" || p.IsSystem || p.OutputFileDefinitions["out_a"] != "tone.wav" {
		t.Fatalf("created preset: %+v", p)
	}
	got, err := c.GetPreset(ctx, p.PresetID)
	if err != nil || got.PresetID != p.PresetID || got.FFmpegCommand != p.FFmpegCommand {
		t.Fatalf("GetPreset: %+v, %v", got, err)
	}
	name := "tone2"
	up, err := c.UpdatePreset(ctx, p.PresetID, client.PresetUpdate{Name: &name})
	if err != nil || up.Name != "tone2" || up.FFmpegCommand != p.FFmpegCommand {
		t.Fatalf("UpdatePreset: %+v, %v", up, err)
	}
	list, err := c.ListPresets(ctx, client.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range list.Presets {
		found = found || q.PresetID == p.PresetID
	}
	if !found {
		t.Errorf("ListPresets lacks %s: %+v", p.PresetID, list)
	}

	// Executing with the wrong input keys is a 422.
	var e *client.Error
	_, err = c.ExecutePreset(ctx, p.PresetID, client.ExecutePresetRequest{InputFiles: map[string]string{"in_b": "http://x"}})
	if !errors.As(err, &e) || e.StatusCode != 422 {
		t.Errorf("ExecutePreset with the wrong keys: %v", err)
	}

	// A clip of its own name: in.mp4, shared with other tests, has no audio.
	testutil.MakeClip(t, mediaDir, "tone.mp4", testutil.Clip{Seconds: 1, Size: "160x120", Audio: true})
	files := testutil.ServeDir(t, mediaDir)
	id, err := c.ExecutePreset(ctx, p.PresetID, client.ExecutePresetRequest{
		InputFiles: map[string]string{"in_a": files.URL + "/tone.mp4"},
		Metadata:   map[string]any{"run": 1},
		// Sent and kept with the command, as with RunRequest.
		MaxCommandRunSeconds: 120,
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil || cmd.Err() != nil || cmd.OutputFiles["out_a"].FileName != "tone.wav" {
		t.Fatalf("executed preset: %+v, %v", cmd, err)
	}
	var orig struct {
		MaxSeconds float64 `json:"max_command_run_seconds"`
	}
	if err := json.Unmarshal(cmd.OriginalRequest, &orig); err != nil || orig.MaxSeconds != 120 {
		t.Errorf("original_request %s: max_command_run_seconds is not 120 (ExecutePresetRequest.MaxCommandRunSeconds)", cmd.OriginalRequest)
	}

	if err := c.DeletePreset(ctx, p.PresetID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPreset(ctx, p.PresetID); !errors.As(err, &e) || e.Code != api.CodeNotFound {
		t.Errorf("GetPreset after delete: %v", err)
	}
}
