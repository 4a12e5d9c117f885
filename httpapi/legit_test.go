package httpapi_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/internal/testutil"
)

// legitCommand is one line of testdata/legit.jsonl: a real-world command
// that must be accepted and must run. input_files name files of the
// generated media directory; the test turns them into URLs.
type legitCommand struct {
	Name          string            `json:"name"`
	InputFiles    map[string]string `json:"input_files"`
	OutputFiles   map[string]string `json:"output_files"`
	FFmpegCommand string            `json:"ffmpeg_command"`
	// Requires names media the machine may lack ("font": a TrueType font
	// to copy); the command is skipped without it.
	Requires string `json:"requires"`
}

// The allow-list must not get in the way of what people really do: every
// command of the legitimate corpus is accepted by validate-ffmpeg-command
// and by run-ffmpeg-command, and then runs to SUCCESS with real ffmpeg,
// every declared output stored. The clips are tiny so the corpus runs in
// seconds.
func TestLegitimateCommandsRun(t *testing.T) {
	testutil.RequireFFmpeg(t)
	dir := t.TempDir()
	have := makeCorpusMedia(t, dir)
	files := testutil.ServeDir(t, dir)
	s := newServerWith(t, testutil.EnvOptions{}, noRateLimit)

	f, err := os.Open("testdata/legit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []legitCommand
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c legitCommand
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("legit.jsonl line %d: %v", len(cmds)+1, err)
		}
		cmds = append(cmds, c)
	}
	if len(cmds) < 40 {
		t.Fatalf("the legitimate corpus has %d commands; keep at least 40", len(cmds))
	}

	ids := make([]string, len(cmds))
	for i, c := range cmds {
		if c.Requires != "" && !have[c.Requires] {
			continue
		}
		inputs := map[string]string{}
		for alias, name := range c.InputFiles {
			inputs[alias] = files.URL + "/" + name
		}
		body := map[string]any{"input_files": inputs, "output_files": c.OutputFiles, "ffmpeg_command": c.FFmpegCommand}
		var v api.Validation
		if code := s.call(t, "POST", "/api/v1/validate-ffmpeg-command", s.Key, body, &v); code != 200 || !v.Valid ||
			len(v.FFmpegCommands) != 1 || v.FFmpegCommands[0][0] != "ffmpeg" {
			var e api.Error
			s.call(t, "POST", "/api/v1/validate-ffmpeg-command", s.Key, body, &e)
			t.Errorf("%s: validate answered %d %+v %+v", c.Name, code, v, e)
			continue
		}
		var created api.CommandID
		if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &created); code != 200 {
			t.Errorf("%s: submit answered %d", c.Name, code)
			continue
		}
		ids[i] = created.CommandID
	}
	for i, c := range cmds {
		if ids[i] == "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			obj := s.poll(t, ids[i], 120*time.Second)
			if obj["status"] != "SUCCESS" {
				t.Fatalf("%s\nstatus %v %v: %v", c.FFmpegCommand, obj["status"], obj["error_status"], obj["error_message"])
			}
			outs, _ := obj["output_files"].(map[string]any)
			for alias := range c.OutputFiles {
				out, _ := outs[alias].(map[string]any)
				if out["status"] != "STORED" {
					t.Errorf("output %s: %v", alias, out)
				}
			}
		})
	}
}

// makeCorpusMedia writes the corpus's inputs into dir: a 1 s 64x48 clip
// with sound, a logo, subtitles, a 3D LUT and (when the machine has one) a
// font. It reports which optional media it could provide.
func makeCorpusMedia(t *testing.T, dir string) map[string]bool {
	t.Helper()
	testutil.MakeClip(t, dir, "clip.mp4", testutil.Clip{Seconds: 1, Size: "64x48", Rate: 10, Audio: true})
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=16x16:d=1", "-frames:v", "1",
		filepath.Join(dir, "logo.png")).CombinedOutput()
	if err != nil {
		t.Fatalf("make logo: %v\n%s", err, out)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("subs.srt", "1\n00:00:00,000 --> 00:00:00,900\nHello\n")
	write("grade.cube", "LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n")
	have := map[string]bool{}
	for _, font := range []string{"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/freefont/FreeSans.ttf"} {
		if data, err := os.ReadFile(font); err == nil {
			write("font.ttf", string(data))
			have["font"] = true
			break
		}
	}
	return have
}
