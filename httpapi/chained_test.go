package httpapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// A chain through HTTP: three steps (scale to an intermediate file, overlay
// a generated image, a thumbnail of the result), two declared outputs stored,
// metadata echoed, CHAINED_COMMAND.
func TestRunChainedCommands(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	body := map[string]any{
		"input_files":  map[string]any{"in_video": in},
		"output_files": map[string]any{"out_video": "overlaid.mp4", "out_thumb": "thumb.jpg"},
		"ffmpeg_commands": []string{
			"-i {{in_video}} -vf scale=320:180 -c:v libx264 -preset veryfast -an tmp_scaled.mp4",
			"-i tmp_scaled.mp4 -f lavfi -i color=c=blue:s=48x48:d=1 -filter_complex [0:v][1:v]overlay=8:8 -c:v libx264 -preset veryfast {{out_video}}",
			"-ss 1 -i {{out_video}} -frames:v 1 {{out_thumb}}",
		},
		"metadata": map[string]any{"job": "chain", "n": 3, "ok": true},
	}
	var created api.CommandID
	if code := s.call(t, "POST", "/api/v1/run-chained-ffmpeg-commands", s.Key, body, &created); code != 200 || created.CommandID == "" {
		t.Fatalf("submit: %d %+v", code, created)
	}
	obj := s.poll(t, created.CommandID, 120*time.Second)
	if obj["status"] != "SUCCESS" || obj["command_type"] != "CHAINED_COMMAND" {
		t.Fatalf("chain %v %v (%v)", obj["status"], obj["command_type"], obj["error_message"])
	}
	outs := obj["output_files"].(map[string]any)
	if len(outs) != 2 || outs["out_video"] == nil || outs["out_thumb"] == nil {
		t.Errorf("output_files %v, want exactly out_video and out_thumb", outs)
	}
	if md, _ := json.Marshal(obj["metadata"]); string(md) != `{"job":"chain","n":3,"ok":true}` {
		t.Errorf("metadata %s, want as sent", md)
	}
	for alias, o := range outs {
		link, _ := o.(map[string]any)["storage_url"].(string)
		if resp, data := getURL(t, link); resp.StatusCode != 200 || len(data) == 0 {
			t.Errorf("%s storage_url: %d, %d bytes", alias, resp.StatusCode, len(data))
		}
	}
	files, _ := s.Store.CommandFiles(context.Background(), created.CommandID)
	if len(files) != 2 {
		t.Errorf("the store holds %d files for the chain, want 2 (no intermediate)", len(files))
	}

	// A chain whose second step fails names it.
	body["ffmpeg_commands"] = []string{
		"-i {{in_video}} -t 1 -c copy tmp_part.mp4",
		"-i tmp_part.mp4 -c:v no_such_codec {{out_video}}",
		"-i {{out_video}} -frames:v 1 {{out_thumb}}",
	}
	s.call(t, "POST", "/api/v1/run-chained-ffmpeg-commands", s.Key, body, &created)
	obj = s.poll(t, created.CommandID, 60*time.Second)
	if msg, _ := obj["error_message"].(string); obj["status"] != "FAILED" || !strings.HasPrefix(msg, "step 2 of 3") {
		t.Errorf("failing chain: %v %q, want FAILED naming step 2 of 3", obj["status"], msg)
	}

	// Validation names the step.
	var bad map[string]any
	body["ffmpeg_commands"] = []string{"-i {{in_video}} {{out_video}}", "-i {{out_video}} -frames:v 1 -dump_attachment x {{out_thumb}}"}
	code := s.call(t, "POST", "/api/v1/run-chained-ffmpeg-commands", s.Key, body, &bad)
	checkFieldError(t, "a forbidden option in step 2", code, bad, "body", "ffmpeg_commands", 1, "-dump_attachment")
	body["ffmpeg_commands"] = "not a list"
	code = s.call(t, "POST", "/api/v1/run-chained-ffmpeg-commands", s.Key, body, &bad)
	checkFieldError(t, "ffmpeg_commands not a list", code, bad, "body", "ffmpeg_commands")
}

// Multiple commands: ids in request order, each its own MULTIPLE_COMMAND
// record, one failing leaves the others alone; one invalid entry creates
// nothing and the 422 names the entry.
func TestRunMultipleCommands(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	one := func(cmd string) map[string]any {
		return map[string]any{"input_files": map[string]any{"in_video": in}, "output_files": map[string]any{"out_video": "m.mp4"},
			"ffmpeg_command": cmd}
	}
	good := one("-i {{in_video}} -t 1 -c copy {{out_video}}")
	bad := one("-i {{in_video}} -t 1 -c copy {{out_video}}")
	bad["output_files"] = map[string]any{"video": "x.mp4"}

	var answer map[string]any
	code := s.call(t, "POST", "/api/v1/run-multiple-ffmpeg-commands", s.Key, map[string]any{"commands": []any{good, good, bad}}, &answer)
	checkFieldError(t, "an invalid third entry", code, answer, "body", "commands", 2, "output_files", "video")
	var list api.CommandList
	s.call(t, "GET", "/api/v1/commands?limit=100", s.Key, nil, &list)
	if len(list.Commands) != 0 {
		t.Fatalf("a refused multiple request created %d commands", len(list.Commands))
	}
	code = s.call(t, "POST", "/api/v1/run-multiple-ffmpeg-commands", s.Key, map[string]any{"commands": []any{}}, &answer)
	checkFieldError(t, "no commands", code, answer, "body", "commands")
	eleven := make([]any, 11)
	for i := range eleven {
		eleven[i] = good
	}
	code = s.call(t, "POST", "/api/v1/run-multiple-ffmpeg-commands", s.Key, map[string]any{"commands": eleven}, &answer)
	checkFieldError(t, "eleven commands", code, answer, "body", "commands")
	code = s.call(t, "POST", "/api/v1/run-multiple-ffmpeg-commands", s.Key, map[string]any{"commands": []any{good, "x"}}, &answer)
	checkFieldError(t, "an entry that is not an object", code, answer, "body", "commands", 1)

	failing := one("-i {{in_video}} -c:v no_such_codec {{out_video}}")
	failing["metadata"] = map[string]any{"which": "failing"}
	var ids api.CommandIDs
	code = s.call(t, "POST", "/api/v1/run-multiple-ffmpeg-commands", s.Key, map[string]any{"commands": []any{good, failing, good}}, &ids)
	if code != 200 || len(ids.Commands) != 3 {
		t.Fatalf("multiple: %d %+v", code, ids)
	}
	want := []string{"SUCCESS", "FAILED", "SUCCESS"}
	for i, c := range ids.Commands {
		obj := s.poll(t, c.CommandID, 60*time.Second)
		if obj["status"] != want[i] || obj["command_type"] != "MULTIPLE_COMMAND" {
			t.Errorf("entry %d: %v %v, want %s MULTIPLE_COMMAND (%v)", i, obj["status"], obj["command_type"], want[i], obj["error_message"])
		}
		if i == 1 && obj["metadata"].(map[string]any)["which"] != "failing" {
			t.Errorf("entry 1 metadata %v", obj["metadata"])
		}
	}
	// Request order: the answer's ids are the records created from each entry.
	first, _ := s.Store.GetCommand(context.Background(), ids.Commands[1].CommandID)
	if !strings.Contains(string(first.Request), "no_such_codec") {
		t.Errorf("the second id's original_request is %s, want the second entry", first.Request)
	}
}

// An out_playlist_ output: the playlist and every segment stored under one
// prefix, the storage_url a stream that ffprobe reads over HTTP with no
// key, every segment fetchable through it, and all of it gone after delete.
func TestHLSOutput(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	body := map[string]any{
		"input_files":  map[string]any{"in_video": in},
		"output_files": map[string]any{"out_playlist_hls": "stream.m3u8"},
		"ffmpeg_command": "-i {{in_video}} -c:v libx264 -preset veryfast -g 30 -c:a aac -f hls -hls_time 1 " +
			"-hls_playlist_type vod {{out_playlist_hls}}",
	}
	obj := s.runToEnd(t, body)
	id, _ := obj["command_id"].(string)
	if obj["status"] != "SUCCESS" {
		t.Fatalf("HLS command %v: %v", obj["status"], obj["error_message"])
	}
	out := obj["output_files"].(map[string]any)["out_playlist_hls"].(map[string]any)
	link := out["storage_url"].(string)
	resp, playlist := getURL(t, link)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(playlist), "#EXTM3U") {
		t.Fatalf("playlist: %d %q", resp.StatusCode, playlist)
	}
	base, _ := url.Parse(link)
	var segments []string
	for _, line := range strings.Split(string(playlist), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			segments = append(segments, line)
		}
	}
	if len(segments) < 3 {
		t.Fatalf("the playlist names %d segments, want several for 5 s in 1 s pieces:\n%s", len(segments), playlist)
	}
	var total int64
	for _, seg := range segments {
		ref, _ := url.Parse(seg)
		resp, data := getURL(t, base.ResolveReference(ref).String())
		if resp.StatusCode != 200 || len(data) == 0 {
			t.Errorf("segment %s through the playlist's link: %d, %d bytes", seg, resp.StatusCode, len(data))
		}
		total += int64(len(data))
	}
	if got := out["size_mbytes"].(float64); got < api.SizeMBytes(total) {
		t.Errorf("size_mbytes %v, want the whole set (segments alone are %v)", got, api.SizeMBytes(total))
	}
	if d, _ := out["duration"].(float64); d < 4.5 || d > 5.5 {
		t.Errorf("duration %v, want about 5 (ffprobe's reading of the playlist)", out["duration"])
	}
	// A player reads it: ffprobe over HTTP, through the link alone.
	probe := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", link)
	probed, err := probe.Output()
	if err != nil || !strings.Contains(string(probed), `"h264"`) || !strings.Contains(string(probed), `"aac"`) {
		t.Errorf("ffprobe of the storage_url: %v\n%s", err, probed)
	}
	// A segment name with a forged signature is refused.
	forged := strings.Replace(link, "/storage/d/", "/storage/d/1/", 1)
	if resp, _ := getURL(t, forged); resp.StatusCode != 403 && resp.StatusCode != 404 {
		t.Errorf("a mangled directory link answered %d", resp.StatusCode)
	}

	// Deleting the command's files deletes every segment too.
	var del map[string]any
	s.call(t, "DELETE", "/api/v1/commands/"+id+"/files", s.Key, nil, &del)
	for _, seg := range append(segments, "stream.m3u8") {
		ref, _ := url.Parse(seg)
		if resp, _ := getURL(t, base.ResolveReference(ref).String()); resp.StatusCode != 404 {
			t.Errorf("%s after delete: %d, want 404", seg, resp.StatusCode)
		}
	}
	files, _ := s.Store.CommandFiles(context.Background(), id)
	if len(files) != 1 || !files[0].IsDeleted || files[0].Status != store.FileStored {
		t.Errorf("the set's record after delete: %+v", files)
	}

	// A playlist output must be named .m3u8.
	body["output_files"] = map[string]any{"out_playlist_hls": "stream.mp4"}
	var bad map[string]any
	code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &bad)
	checkFieldError(t, "a playlist output not named .m3u8", code, bad, "body", "output_files", "out_playlist_hls")
}
