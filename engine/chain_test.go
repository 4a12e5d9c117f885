package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/store"
)

func submitChain(t *testing.T, env *testutil.Env, req engine.SubmitRequest) *store.Command {
	t.Helper()
	req.OriginalRequest, _ = json.Marshal(map[string]any{"ffmpeg_commands": req.FFmpegCommands})
	cmd, err := env.Engine.SubmitChained(context.Background(), env.Account.ID, req)
	if err != nil {
		t.Fatalf("SubmitChained: %v", err)
	}
	return cmd
}

// Three steps in one work dir: scale to an intermediate file, overlay a
// generated image on it, take a thumbnail of the result. Two outputs are
// declared and stored; the intermediate is not.
func TestChainThreeStepsWithIntermediate(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	events := make(chan notify.Event, 1)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{
		Notifiers: []notify.Notifier{notify.NotifierFunc(func(ctx context.Context, e notify.Event) error {
			events <- e
			return nil
		})},
	}})

	cmd := submitChain(t, env, engine.SubmitRequest{
		InputFiles:  map[string]string{"in_video": files.URL + "/in.mp4"},
		OutputFiles: map[string]string{"out_video": "overlaid.mp4", "out_thumb": "thumb.jpg"},
		FFmpegCommands: []string{
			"-i {{in_video}} -vf scale=320:180 -c:v libx264 -preset veryfast -an scaled.mp4",
			"-i scaled.mp4 -f lavfi -i color=c=red:s=64x64:d=1 -filter_complex [0:v][1:v]overlay=10:10 -c:v libx264 -preset veryfast {{out_video}}",
			"-ss 1 -i {{out_video}} -frames:v 1 {{out_thumb}}",
		},
		Metadata: map[string]any{"job": "chain", "n": json.Number("3"), "ok": true},
	})
	if cmd.Type != store.TypeChainedCommand {
		t.Errorf("command type %s, want CHAINED_COMMAND", cmd.Type)
	}
	got := env.Wait(t, cmd.ID, 120*time.Second)
	if got.Status != store.StatusSuccess {
		t.Fatalf("status %s (%s: %s), want SUCCESS", got.Status, got.ErrorStatus, got.ErrorMessage)
	}
	if len(got.Files) != 2 {
		t.Errorf("stored %d files, want exactly the 2 declared outputs: %v", len(got.Files), got.Files)
	}
	video, thumb := got.Files["out_video"], got.Files["out_thumb"]
	if video == nil || video.Info.Codec != "h264" || deref(video.Info.Width) != 320 || deref(video.Info.Height) != 180 {
		t.Errorf("out_video %+v, want 320x180 h264", video)
	}
	if thumb == nil || thumb.Info.FileType != "image" || deref(thumb.Info.Width) != 320 {
		t.Errorf("out_thumb %+v, want a 320-wide image", thumb)
	}
	if got.FFmpegRunSeconds == nil || *got.FFmpegRunSeconds <= 0 {
		t.Errorf("ffmpeg_command_run_seconds %v, want the positive sum of the steps", got.FFmpegRunSeconds)
	}
	obj, err := env.Engine.CommandObject(context.Background(), got)
	if err != nil {
		t.Fatal(err)
	}
	if obj.CommandType != "CHAINED_COMMAND" || obj.Metadata["job"] != "chain" || obj.Metadata["n"] != json.Number("3") || obj.Metadata["ok"] != true {
		t.Errorf("command object type %s metadata %v; want CHAINED_COMMAND and the metadata as sent", obj.CommandType, obj.Metadata)
	}
	// The webhook body carries the same metadata, digit for digit.
	select {
	case e := <-events:
		var payload struct {
			Data struct {
				Metadata json.RawMessage `json:"metadata"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e.Payload, &payload); err != nil || string(payload.Data.Metadata) != `{"job":"chain","n":3,"ok":true}` {
			t.Errorf("webhook payload metadata %s (%v), want as sent", payload.Data.Metadata, err)
		}
	case <-time.After(30 * time.Second):
		t.Error("no event for the finished chain")
	}
}

// A failing second step fails the chain, naming the step; the third never runs.
func TestChainFailingStepNamesIt(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	cmd := submitChain(t, env, engine.SubmitRequest{
		InputFiles:  map[string]string{"in_video": files.URL + "/in.mp4"},
		OutputFiles: map[string]string{"out_video": "v.mp4", "out_thumb": "t.jpg"},
		FFmpegCommands: []string{
			"-i {{in_video}} -t 1 -c copy part.mp4",
			"-i part.mp4 -c:v nosuchcodec {{out_video}}",
			"-i {{out_video}} -frames:v 1 {{out_thumb}}",
		},
	})
	got := env.Wait(t, cmd.ID, 60*time.Second)
	if got.Status != store.StatusFailed || got.ErrorStatus != engine.ErrorFFmpegFailed {
		t.Fatalf("status %s %s, want FAILED FFMPEG_FAILED", got.Status, got.ErrorStatus)
	}
	if !strings.HasPrefix(got.ErrorMessage, "step 2 of 3") {
		t.Errorf("error message %q does not start by naming step 2 of 3", got.ErrorMessage)
	}
	if len(got.Files) != 0 {
		t.Errorf("a failed chain stored %d files", len(got.Files))
	}
}

// Chains are validated as a whole: a step may only read an intermediate
// file an earlier step wrote, and 11 steps are too many.
func TestChainValidation(t *testing.T) {
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	base := engine.SubmitRequest{
		InputFiles:  map[string]string{"in_video": "https://example.com/a.mp4"},
		OutputFiles: map[string]string{"out_video": "v.mp4"},
	}
	cases := map[string][]string{
		"unwritten intermediate": {"-i nothere.mp4 {{out_video}}", "-i {{in_video}} x.mp4"},
		"eleven steps":           slicesRepeat("-i {{in_video}} {{out_video}}", 11),
		"no steps":               {},
	}
	for name, steps := range cases {
		req := base
		req.FFmpegCommands = steps
		_, err := env.Engine.SubmitChained(context.Background(), env.Account.ID, req)
		var invalid *engine.ValidationError
		if !errors.As(err, &invalid) {
			t.Errorf("%s: err = %v, want a ValidationError", name, err)
			continue
		}
		if loc := invalid.Problems[0].Loc; len(loc) < 2 || loc[1] != "ffmpeg_commands" {
			t.Errorf("%s: first problem at %v, want under ffmpeg_commands", name, loc)
		}
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// A chain's ffmpeg_command_run_seconds is the sum of its steps: two steps
// that each read one second of input in real time (-re) run at least two
// seconds of ffmpeg between them, and never more than the whole command.
func TestChainRunSecondsAreTheSumOfTheSteps(t *testing.T) {
	testutil.RequireFFmpeg(t)
	env := testutil.NewEnv(t, testutil.EnvOptions{})
	step := "-re -f lavfi -i testsrc=duration=1:size=160x120:rate=10 -c:v libx264 -preset ultrafast "
	cmd, err := env.Engine.SubmitChained(context.Background(), env.Account.ID, engine.SubmitRequest{
		OutputFiles:    map[string]string{"out_a": "a.mp4", "out_b": "b.mp4"},
		FFmpegCommands: []string{step + "{{out_a}}", step + "{{out_b}}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := env.Wait(t, cmd.ID, 60*time.Second)
	if got.Status != store.StatusSuccess {
		t.Fatalf("chain %s: %s", got.Status, got.ErrorMessage)
	}
	run, total := *got.FFmpegRunSeconds, *got.TotalProcessingSeconds
	if run < 2 || run > total {
		t.Errorf("ffmpeg_command_run_seconds = %.3f (total %.3f); want the two steps' sum, at least 2 s and at most the total", run, total)
	}
}
