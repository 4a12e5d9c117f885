package httpapi_test

import (
	"context"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// An image sequence output: the images ffmpeg's image2 muxer writes and the
// playlist the engine writes for them are stored under one prefix; the
// playlist's storage_url lists them, each opens through its relative link
// with no API key, and deleting the files deletes them all.
func TestImageSequenceOutput(t *testing.T) {
	testutil.MakeClip(t, mediaDir, "seq.mp4", testutil.Clip{Seconds: 2, Size: "320x180"})
	in := testutil.ServeDir(t, mediaDir).URL + "/seq.mp4"
	s := newServer(t, testutil.EnvOptions{})
	body := map[string]any{
		"input_files":    map[string]any{"in_video": in},
		"output_files":   map[string]any{"out_playlist_frames": "frame_%03d.jpg"},
		"ffmpeg_command": "-i {{in_video}} -vf fps=2 {{out_playlist_frames}}",
	}
	obj := s.runToEnd(t, body)
	id, _ := obj["command_id"].(string)
	if obj["status"] != "SUCCESS" {
		t.Fatalf("image sequence command %v: %v", obj["status"], obj["error_message"])
	}
	out := obj["output_files"].(map[string]any)["out_playlist_frames"].(map[string]any)
	link := out["storage_url"].(string)
	resp, playlist := getURL(t, link)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(playlist), "#EXTM3U\n") || !strings.HasSuffix(string(playlist), "#EXT-X-ENDLIST\n") {
		t.Fatalf("playlist: %d %q", resp.StatusCode, playlist)
	}
	if !strings.HasSuffix(strings.SplitN(link, "?", 2)[0], "/frame.m3u8") {
		t.Errorf("storage_url %s, want the engine's playlist frame.m3u8", link)
	}
	base, _ := url.Parse(link)
	var images []string
	for _, line := range strings.Split(string(playlist), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			images = append(images, line)
		}
	}
	// 2 s at 2 frames a second: about 4 images, numbered from 1 in order.
	if len(images) < 3 || len(images) > 6 {
		t.Fatalf("the playlist names %d images, want about 4:\n%s", len(images), playlist)
	}
	for i, name := range images {
		if want := "frame_00" + string(rune('1'+i)) + ".jpg"; name != want {
			t.Errorf("image %d is %q, want %q", i, name, want)
		}
	}
	var total int64
	for _, name := range images {
		ref, _ := url.Parse(name)
		imageURL := base.ResolveReference(ref).String()
		resp, data := getURL(t, imageURL)
		if resp.StatusCode != 200 || len(data) == 0 {
			t.Errorf("image %s through the playlist's link: %d, %d bytes", name, resp.StatusCode, len(data))
			continue
		}
		total += int64(len(data))
		probed, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width", "-of", "csv=p=0", imageURL).Output()
		if err != nil || strings.TrimSpace(string(probed)) != "mjpeg,320" {
			t.Errorf("ffprobe of image %s: %v %q, want a 320-wide mjpeg", name, err, probed)
		}
	}
	if got := out["size_mbytes"].(float64); got < api.SizeMBytes(total) {
		t.Errorf("size_mbytes %v, want the whole set (images alone are %v)", got, api.SizeMBytes(total))
	}

	var del map[string]any
	s.call(t, "DELETE", "/api/v1/commands/"+id+"/files", s.Key, nil, &del)
	for _, name := range append(images, "frame.m3u8") {
		ref, _ := url.Parse(name)
		if resp, _ := getURL(t, base.ResolveReference(ref).String()); resp.StatusCode != 404 {
			t.Errorf("%s after delete: %d, want 404", name, resp.StatusCode)
		}
	}
	files, _ := s.Store.CommandFiles(context.Background(), id)
	if len(files) != 1 || !files[0].IsDeleted {
		t.Errorf("the set's record after delete: %+v", files)
	}
}

// A command that writes no image fails with the output missing.
func TestImageSequenceOutputMissing(t *testing.T) {
	testutil.MakeClip(t, mediaDir, "seq.mp4", testutil.Clip{Seconds: 2, Size: "320x180"})
	in := testutil.ServeDir(t, mediaDir).URL + "/seq.mp4"
	s := newServer(t, testutil.EnvOptions{})
	// -update 1 makes image2 write one file under the literal name, which
	// is not a frame of the pattern.
	body := map[string]any{
		"input_files":    map[string]any{"in_video": in},
		"output_files":   map[string]any{"out_playlist_frames": "frame_%03d.jpg"},
		"ffmpeg_command": "-i {{in_video}} -update 1 -frames:v 1 {{out_playlist_frames}}",
	}
	obj := s.runToEnd(t, body)
	id, _ := obj["command_id"].(string)
	if obj["status"] != "FAILED" || obj["error_status"] != "OUTPUT_MISSING" {
		t.Fatalf("a command writing no image: %v %v %v", obj["status"], obj["error_status"], obj["error_message"])
	}
	files, _ := s.Store.CommandFiles(context.Background(), id)
	for _, f := range files {
		if f.Status == store.FileStored && !f.IsDeleted {
			t.Errorf("a failed image sequence left a stored file: %+v", f)
		}
	}
}

// An image pattern is a file name only for a set output, and only in the
// one shape image2 writes safely; anything else is a 422 naming the output.
func TestImageSequenceValidation(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	bad := []struct {
		what    string
		outputs map[string]any
		alias   string
	}{
		{"a pattern on a plain output", map[string]any{"out_frames": "frame_%03d.jpg"}, "out_frames"},
		{"two patterns", map[string]any{"out_playlist_frames": "f_%d_%d.jpg"}, "out_playlist_frames"},
		{"%s", map[string]any{"out_playlist_frames": "frame_%s.jpg"}, "out_playlist_frames"},
		{"%n", map[string]any{"out_playlist_frames": "frame_%n.jpg"}, "out_playlist_frames"},
		{"%%", map[string]any{"out_playlist_frames": "frame_%%.jpg"}, "out_playlist_frames"},
		{"%d and %%", map[string]any{"out_playlist_frames": "frame_%d%%.jpg"}, "out_playlist_frames"},
		{"a width of 10", map[string]any{"out_playlist_frames": "frame_%010d.jpg"}, "out_playlist_frames"},
		{"a width of 0", map[string]any{"out_playlist_frames": "frame_%00d.jpg"}, "out_playlist_frames"},
		{"a path up the tree", map[string]any{"out_playlist_frames": "../frame_%03d.jpg"}, "out_playlist_frames"},
		{"an absolute path", map[string]any{"out_playlist_frames": "/tmp/frame_%03d.jpg"}, "out_playlist_frames"},
		{"no extension", map[string]any{"out_playlist_frames": "frame_%03d"}, "out_playlist_frames"},
		{"the pattern in the extension", map[string]any{"out_playlist_frames": "frame.%03d"}, "out_playlist_frames"},
		{"not an image extension", map[string]any{"out_playlist_frames": "frame_%03d.mp4"}, "out_playlist_frames"},
		{"a leading -", map[string]any{"out_playlist_frames": "-%03d.jpg"}, "out_playlist_frames"},
		{"another output the pattern matches", map[string]any{"out_playlist_frames": "frame_%03d.jpg", "out_thumb": "frame_001.jpg"}, "out_playlist_frames"},
		{"two patterns that overlap", map[string]any{"out_playlist_a": "f_%d.jpg", "out_playlist_b": "f_%02d.jpg"}, "out_playlist_b"},
	}
	for _, tc := range bad {
		var cmd strings.Builder
		cmd.WriteString("-i {{in_video}}")
		for alias := range tc.outputs {
			cmd.WriteString(" -frames:v 1 {{" + alias + "}}")
		}
		body := map[string]any{
			"input_files":    map[string]any{"in_video": "http://127.0.0.1:9/in.mp4"},
			"output_files":   tc.outputs,
			"ffmpeg_command": cmd.String(),
		}
		var got map[string]any
		code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &got)
		checkFieldError(t, tc.what, code, got, "body", "output_files", tc.alias)
	}

	// The accepted shapes, on a set output.
	for _, name := range []string{"frame_%03d.jpg", "%d.png", "img-%09d_x.webp", "shot%d.TIFF", "a_%d.jpeg"} {
		body := map[string]any{
			"input_files":    map[string]any{"in_video": "http://127.0.0.1:9/in.mp4"},
			"output_files":   map[string]any{"out_playlist_frames": name},
			"ffmpeg_command": "-i {{in_video}} -vf fps=1 {{out_playlist_frames}}",
		}
		var got map[string]any
		if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &got); code != 200 {
			t.Errorf("image sequence %q: %d %v, want it accepted", name, code, got)
		}
	}
}
