package httpapi_test

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/internal/testutil"
)

// hostileRequest is one line of testdata/hostile.jsonl: a request that
// must be refused, and where and why.
type hostileRequest struct {
	Name  string          `json:"name"`
	Class string          `json:"class"` // read, write, network, device, code, resource, escaping, shell, alias, url
	Body  json.RawMessage `json:"body"`
	Loc   []any           `json:"loc"` // the detail's exact loc; for command problems it ends with the argv word
	Msg   string          `json:"msg"` // part of that detail's msg, naming the token and why
}

func readHostileCorpus(t *testing.T) []hostileRequest {
	t.Helper()
	f, err := os.Open("testdata/hostile.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reqs []hostileRequest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r hostileRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("hostile.jsonl line %d: %v", len(reqs)+1, err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// Every hostile request is refused with 422 by both the submit and the
// validate endpoint, with a detail that locates the field and the
// offending word and says what is wrong with the token inside it.
func TestHostileRequestsAreRefused(t *testing.T) {
	s := newServerWith(t, testutil.EnvOptions{NoStart: true}, noRateLimit)
	reqs := readHostileCorpus(t)
	if len(reqs) < 40 {
		t.Fatalf("the hostile corpus has %d requests; keep at least 40", len(reqs))
	}
	for _, r := range reqs {
		t.Run(r.Class+"/"+r.Name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/validate-ffmpeg-command", "/api/v1/run-ffmpeg-command"} {
				var e api.Error
				code := s.call(t, "POST", path, s.Key, []byte(r.Body), &e)
				if code != 422 || e.Error != api.CodeValidationError {
					t.Fatalf("%s answered %d %+v, want 422 %s", path, code, e, api.CodeValidationError)
				}
				if !hasDetail(e.Detail, r.Loc, r.Msg) {
					t.Fatalf("%s: no detail at %q mentioning %q; got:\n%s", path, r.Loc, r.Msg, details(e.Detail))
				}
			}
		})
	}
}

func hasDetail(detail []api.ErrorDetail, loc []any, msg string) bool {
	for _, d := range detail {
		if reflect.DeepEqual(normalLoc(d.Loc), normalLoc(loc)) && strings.Contains(d.Msg, msg) && d.Type == "value_error" {
			return true
		}
	}
	return false
}

// normalLoc makes JSON numbers and Go ints compare equal.
func normalLoc(loc []any) []any {
	out := make([]any, len(loc))
	for i, l := range loc {
		switch v := l.(type) {
		case float64:
			out[i] = int(v)
		default:
			out[i] = v
		}
	}
	return out
}

func details(detail []api.ErrorDetail) string {
	var b strings.Builder
	for _, d := range detail {
		loc, _ := json.Marshal(d.Loc)
		b.WriteString("  " + string(loc) + ": " + d.Msg + "\n")
	}
	return b.String()
}

// validate-ffmpeg-command answers the argv a run would use, with the
// engine's own arguments and work-dir paths, and records nothing.
func TestValidateAnswersTheArgv(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	body := map[string]any{
		"input_files":    map[string]any{"in_video": "http://127.0.0.1:9/clip.mp4?sig=x", "in_subs": "http://127.0.0.1:9/a.srt"},
		"output_files":   map[string]any{"out_video": "small.mp4"},
		"ffmpeg_command": `ffmpeg -i <<in_video>> -vf "subtitles={{in_subs}},scale=320:-2" -c:v libx264 {{out_video}}`,
	}
	var v api.Validation
	if code := s.call(t, "POST", "/api/v1/validate-ffmpeg-command", s.Key, body, &v); code != 200 {
		t.Fatalf("validate: %d", code)
	}
	// The engine's own arguments come first; which they are is the
	// engine's business, so only the user's part is compared exactly.
	user := []string{"-i", "in/in_video.mp4", "-vf", "subtitles=in/in_subs.srt,scale=320:-2", "-c:v", "libx264", "out/small.mp4"}
	if !v.Valid || len(v.FFmpegCommands) != 1 || len(v.FFmpegCommands[0]) < len(user)+1 ||
		v.FFmpegCommands[0][0] != "ffmpeg" || !reflect.DeepEqual(v.FFmpegCommands[0][len(v.FFmpegCommands[0])-len(user):], user) {
		t.Errorf("got %+v\nwant ffmpeg, the engine's arguments, then %q", v, user)
	}
	var list api.CommandList
	if s.call(t, "GET", "/api/v1/commands", s.Key, nil, &list); len(list.Commands) != 0 {
		t.Errorf("validating created %d commands", len(list.Commands))
	}
	if code := s.call(t, "POST", "/api/v1/validate-ffmpeg-command", "", body, nil); code != 401 {
		t.Errorf("without a key: %d, want 401", code)
	}
}
