package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/media"
)

var mediaDir string

func TestMain(m *testing.M) { os.Exit(testutil.RunWithTempDir(m, &mediaDir)) }

// server is the HTTP API on a real loopback server, over an engine on a real
// SQLite file and a file:// bucket.
type server struct {
	*testutil.Env
	URL string
}

func newServer(t *testing.T, o testutil.EnvOptions) *server {
	t.Helper()
	return newServerWith(t, o, httpapi.Config{})
}

// newServerWith is newServer with a handler config.
// noRateLimit is for tests that send more requests than a client should:
// the corpora post every entry to two endpoints.
var noRateLimit = httpapi.Config{RateLimitPerMinute: -1}

func newServerWith(t *testing.T, o testutil.EnvOptions, cfg httpapi.Config) *server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + ts.Listener.Addr().String()
	o.PublicURL = publicURL
	env := testutil.NewEnv(t, o)
	ts.Config.Handler = httpapi.New(env.Engine, cfg)
	ts.Start()
	t.Cleanup(ts.Close)
	return &server{Env: env, URL: publicURL}
}

// call sends a request and decodes a JSON answer into out (if not nil).
func (s *server) call(t *testing.T, method, path, key string, body any, out any) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s answered Content-Type %q, want application/json", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// runToEnd submits body to run-ffmpeg-command and polls the command until
// it finishes (two minutes at most), returning its final object.
func (s *server) runToEnd(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	var created api.CommandID
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &created); code != 200 {
		t.Fatalf("submit: %d", code)
	}
	return s.poll(t, created.CommandID, 120*time.Second)
}

func (s *server) poll(t *testing.T, id string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var obj map[string]any
	for time.Now().Before(deadline) {
		obj = nil
		if code := s.call(t, "GET", "/api/v1/commands/"+id, s.Key, nil, &obj); code != 200 {
			t.Fatalf("GET command: %d %v", code, obj)
		}
		if st := obj["status"]; st == "SUCCESS" || st == "FAILED" {
			return obj
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("command %s not finished after %v: %v", id, timeout, obj)
	return nil
}

func clipURL(t *testing.T) string {
	testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
	return testutil.ServeDir(t, mediaDir).URL + "/in.mp4"
}

// The whole flow a client sees: submit, poll, download, probe.
func TestSubmitPollDownload(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	body := map[string]any{
		"input_files":    map[string]any{"in_video": in},
		"output_files":   map[string]any{"out_video": "small.mp4"},
		"ffmpeg_command": "ffmpeg -i {{in_video}} -vf scale=320:180 -c:v libx264 -preset veryfast -c:a aac {{out_video}}",
		"metadata":       map[string]any{"job": "42", "priority": 3.0, "urgent": true},
		"some_extension": "ignored, not rejected",
	}
	var created api.CommandID
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &created); code != 200 || created.CommandID == "" {
		t.Fatalf("submit: %d %+v", code, created)
	}

	// While it runs, the output entry already has its file id and a null storage_url.
	var early map[string]any
	s.call(t, "GET", "/api/v1/commands/"+created.CommandID, s.Key, nil, &early)
	earlyOut := early["output_files"].(map[string]any)["out_video"].(map[string]any)
	if _, has := earlyOut["storage_url"]; !has || earlyOut["file_id"] == "" {
		t.Errorf("before it is stored, an output entry has file_id and storage_url (null): %v", earlyOut)
	}

	obj := s.poll(t, created.CommandID, 60*time.Second)
	if obj["status"] != "SUCCESS" {
		t.Fatalf("status %v: %v", obj["status"], obj["error_message"])
	}
	if obj["command_type"] != "FFMPEG_COMMAND" || obj["command_id"] != created.CommandID {
		t.Errorf("command_type/command_id: %v %v", obj["command_type"], obj["command_id"])
	}
	if !reflect.DeepEqual(obj["original_request"], jsonRoundTrip(body)) {
		t.Errorf("original_request = %v\nwant %v", obj["original_request"], jsonRoundTrip(body))
	}
	if !reflect.DeepEqual(obj["metadata"], body["metadata"]) {
		t.Errorf("metadata = %v, want %v", obj["metadata"], body["metadata"])
	}
	total, _ := obj["total_processing_seconds"].(float64)
	ff, _ := obj["ffmpeg_command_run_seconds"].(float64)
	if !(ff > 0 && total >= ff) {
		t.Errorf("timings total=%v ffmpeg=%v", total, ff)
	}
	for _, f := range []string{"created_at", "updated_at"} {
		if _, err := time.Parse(time.RFC3339, obj[f].(string)); err != nil {
			t.Errorf("%s %q is not RFC 3339: %v", f, obj[f], err)
		}
	}
	if _, has := obj["error_status"]; has {
		t.Errorf("a SUCCESS command carries error_status")
	}

	out := obj["output_files"].(map[string]any)["out_video"].(map[string]any)
	if out["file_id"] != earlyOut["file_id"] {
		t.Errorf("file_id changed from %v to %v", earlyOut["file_id"], out["file_id"])
	}
	for k, want := range map[string]any{"status": "STORED", "filename": "small.mp4", "is_deleted": false,
		"file_type": "video", "codec": "h264", "width": 320.0, "height": 180.0, "mime_type": "video/mp4", "file_format": "mp4"} {
		if out[k] != want {
			t.Errorf("output %s = %v, want %v", k, out[k], want)
		}
	}
	if size, _ := out["size_mbytes"].(float64); size <= 0 {
		t.Errorf("size_mbytes = %v", out["size_mbytes"])
	}

	// storage_url: a plain GET with no key fetches the bytes, which probe right.
	link := out["storage_url"].(string)
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("GET storage_url: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	local := filepath.Join(t.TempDir(), "got.mp4")
	os.WriteFile(local, data, 0o600)
	info, err := (&media.Prober{}).Probe(context.Background(), local)
	if err != nil {
		t.Fatal(err)
	}
	if info.Codec != "h264" || *info.Width != 320 || *info.Height != 180 || *info.Duration < 4.9 || *info.Duration > 5.1 {
		t.Errorf("downloaded output probes as %+v", info)
	}
	if got := api.SizeMBytes(int64(len(data))); got != out["size_mbytes"] {
		t.Errorf("size_mbytes %v, downloaded %d bytes (%v MiB)", out["size_mbytes"], len(data), got)
	}
}

func TestStorageLinks(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	var created api.CommandID
	s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
		"input_files": map[string]any{"in_video": in}, "output_files": map[string]any{"out_video": "copy.mp4"},
		"ffmpeg_command": "-i {{in_video}} -c copy {{out_video}}"}, &created)
	obj := s.poll(t, created.CommandID, 30*time.Second)
	link := obj["output_files"].(map[string]any)["out_video"].(map[string]any)["storage_url"].(string)
	whole := get(t, link, "")
	if whole.code != 200 || len(whole.body) == 0 {
		t.Fatalf("GET link: %d", whole.code)
	}

	t.Run("range requests return the right bytes", func(t *testing.T) {
		part := get(t, link, "bytes=100-199")
		if part.code != http.StatusPartialContent || !bytes.Equal(part.body, whole.body[100:200]) {
			t.Fatalf("Range 100-199: %d, %d bytes, equal=%v", part.code, len(part.body), bytes.Equal(part.body, whole.body[100:200]))
		}
		tail := get(t, link, "bytes=-10")
		if !bytes.Equal(tail.body, whole.body[len(whole.body)-10:]) {
			t.Fatalf("suffix range returned the wrong bytes")
		}
	})

	u, _ := url.Parse(link)
	key := strings.TrimPrefix(u.Path, "/storage/")
	q := u.Query()
	forged := map[string]string{
		"tampered signature": strings.Replace(link, q.Get("signature"), flip(q.Get("signature")), 1),
		"later expiry, same signature": strings.Replace(link, "expires="+q.Get("expires"),
			fmt.Sprintf("expires=%d", time.Now().Add(1000*time.Hour).Unix()), 1),
		"another file's path, same signature": strings.Replace(link, key, strings.Replace(key, "copy.mp4", "other.mp4", 1), 1),
		"no signature":                        s.URL + "/storage/" + key,
		"expired":                             s.URL + s.Signer.Sign(key, time.Now().Add(-time.Minute)),
	}
	for name, l := range forged {
		t.Run(name+" is 403", func(t *testing.T) {
			r := get(t, l, "")
			if r.code != http.StatusForbidden {
				t.Fatalf("GET %s: %d, want 403", l, r.code)
			}
			var e api.Error
			if json.Unmarshal(r.body, &e) != nil || e.Message == "" {
				t.Fatalf("403 body %q is not the contract's error body", r.body)
			}
		})
	}
	t.Run("an unsatisfiable range is 416 with the error body", func(t *testing.T) {
		r := get(t, link, fmt.Sprintf("bytes=%d-", len(whole.body)+10))
		var e api.Error
		if r.code != http.StatusRequestedRangeNotSatisfiable || json.Unmarshal(r.body, &e) != nil || e.Message == "" {
			t.Fatalf("got %d %q", r.code, r.body)
		}
	})
	t.Run("a valid link to a missing object is 404", func(t *testing.T) {
		r := get(t, s.URL+s.Signer.Sign("files/none/none.mp4", time.Now().Add(time.Hour)), "")
		if r.code != http.StatusNotFound {
			t.Fatalf("got %d", r.code)
		}
	})
}

func TestAuthentication(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	for name, key := range map[string]string{
		"no key":        "",
		"malformed key": "not-a-key",
		"unknown key":   engine.NewAPIKey(),
	} {
		t.Run(name, func(t *testing.T) {
			var e api.Error
			for _, path := range []string{"/api/v1/commands?limit=1", "/api/v1/commands/" + "01234567-89ab-cdef-0123-456789abcdef"} {
				if code := s.call(t, "GET", path, key, nil, &e); code != 401 || e.Error != "UNAUTHORIZED" || e.Message == "" {
					t.Errorf("GET %s: %d %+v, want 401 UNAUTHORIZED", path, code, e)
				}
			}
			if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", key, map[string]any{}, &e); code != 401 {
				t.Errorf("POST: %d, want 401", code)
			}
		})
	}
	t.Run("valid key: limit=1 answers 200", func(t *testing.T) {
		var page api.CommandList
		if code := s.call(t, "GET", "/api/v1/commands?limit=1", s.Key, nil, &page); code != 200 || page.Limit != 1 {
			t.Fatalf("got %d %+v", code, page)
		}
	})
}

func TestAccountsSeeOnlyTheirOwnCommands(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	otherKey := engine.NewAPIKey()
	if _, err := engine.AddAPIKey(context.Background(), s.Store, "other", otherKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	var mine api.CommandID
	s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
		"output_files": map[string]any{"out_video": "a.mp4"}, "ffmpeg_command": "-f lavfi -i testsrc=duration=1 {{out_video}}"}, &mine)

	var e api.Error
	if code := s.call(t, "GET", "/api/v1/commands/"+mine.CommandID, otherKey, nil, &e); code != 404 || e.Error != "NOT_FOUND" {
		t.Errorf("another account's command: %d %+v, want 404", code, e)
	}
	if code := s.call(t, "GET", "/api/v1/commands/00000000-0000-0000-0000-000000000000", s.Key, nil, &e); code != 404 {
		t.Errorf("unknown id: %d, want 404", code)
	}
	if code := s.call(t, "GET", "/api/v1/commands/not-a-uuid", s.Key, nil, &e); code != 404 {
		t.Errorf("malformed id: %d, want 404", code)
	}
	var page api.CommandList
	s.call(t, "GET", "/api/v1/commands", otherKey, nil, &page)
	if len(page.Commands) != 0 {
		t.Errorf("another account lists %d commands", len(page.Commands))
	}
	s.call(t, "GET", "/api/v1/commands", s.Key, nil, &page)
	if len(page.Commands) != 1 || page.Commands[0].CommandID != mine.CommandID {
		t.Errorf("own list: %+v", page.Commands)
	}
}

// Each rule of the contract's "Aliases and placeholders" section answers
// 422 with a detail entry locating the field.
func TestValidationErrors(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	in := "http://127.0.0.1:9/in.mp4"
	base := func() map[string]any {
		return map[string]any{
			"input_files":    map[string]any{"in_video": in},
			"output_files":   map[string]any{"out_video": "out.mp4"},
			"ffmpeg_command": "-i {{in_video}} {{out_video}}",
		}
	}
	with := func(k string, v any) map[string]any {
		b := base()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		name    string
		body    map[string]any
		wantLoc string // loc joined with "/"
		wantMsg string // part of that detail's msg
	}{
		{"input key without in_", with("input_files", map[string]any{"video": in}), "body/input_files/video", "in_"},
		{"output key without out_", with("output_files", map[string]any{"video": "out.mp4"}), "body/output_files/video", "out_"},
		{"alias with a bad character", with("input_files", map[string]any{"in_vid-eo": in}), "body/input_files/in_vid-eo", "in_vid-eo"},
		{"undeclared placeholder", with("ffmpeg_command", "-i {{in_video}} -i {{in_other}} {{out_video}}"), "body/ffmpeg_command", "in_other"},
		{"undeclared <<placeholder>>", with("ffmpeg_command", "-i <<in_video>> -i <<in_other>> <<out_video>>"), "body/ffmpeg_command", "in_other"},
		{"declared input unused", with("input_files", map[string]any{"in_video": in, "in_extra": in}), "body/input_files/in_extra", "in_extra"},
		{"declared output unused", with("output_files", map[string]any{"out_video": "out.mp4", "out_thumb": "t.jpg"}), "body/output_files/out_thumb", "out_thumb"},
		{"output name with a path", with("output_files", map[string]any{"out_video": "../../x.mp4"}), "body/output_files/out_video", "../../x.mp4"},
		{"output name with a slash", with("output_files", map[string]any{"out_video": "a/b.mp4"}), "body/output_files/out_video", "a/b.mp4"},
		{"output name starting with -", with("output_files", map[string]any{"out_video": "-x.mp4"}), "body/output_files/out_video", "-x.mp4"},
		{"output name starting with .", with("output_files", map[string]any{"out_video": ".x.mp4"}), "body/output_files/out_video", ".x.mp4"},
		{"output name without extension", with("output_files", map[string]any{"out_video": "video"}), "body/output_files/out_video", "video"},
		{"output name over 255 bytes", with("output_files", map[string]any{"out_video": strings.Repeat("a", 252) + ".mp4"}), "body/output_files/out_video", "255"},
		{"shell metacharacter", with("ffmpeg_command", "-i {{in_video}} {{out_video}}; id"), "body/ffmpeg_command", ";"},
		{"pipe", with("ffmpeg_command", "-i {{in_video}} {{out_video}} | cat"), "body/ffmpeg_command", "|"},
		{"command substitution", with("ffmpeg_command", "-i {{in_video}} -metadata title=$(id) {{out_video}}"), "body/ffmpeg_command", "$"},
		{"unbalanced quote", with("ffmpeg_command", "-i {{in_video}} -vf 'scale=1:1 {{out_video}}"), "body/ffmpeg_command", "quote"},
		{"missing ffmpeg_command", with("ffmpeg_command", nil), "body/ffmpeg_command", "required"},
		{"empty ffmpeg_command", with("ffmpeg_command", "ffmpeg"), "body/ffmpeg_command", "no arguments"},
		{"input URL not http", with("input_files", map[string]any{"in_video": "file:///etc/passwd"}), "body/input_files/in_video", "http"},
		{"input_files not an object", with("input_files", []any{"x"}), "body/input_files", "object"},
		{"metadata value not a scalar", with("metadata", map[string]any{"k": []any{1}}), "body/metadata/k", "string, a number or a boolean"},
		{"too many metadata keys", with("metadata", manyKeys(11)), "body/metadata", "10"},
		{"metadata key too long", with("metadata", map[string]any{strings.Repeat("k", 65): "v"}), "body/metadata/" + strings.Repeat("k", 65), "1 to 64 bytes"},
		{"metadata string too long", with("metadata", map[string]any{"note": strings.Repeat("x", 1025)}), "body/metadata/note", "at most 1024 bytes"},
		{"metadata number too long", with("metadata", map[string]any{"n": json.Number(strings.Repeat("9", 65))}), "body/metadata/n", "at most 64 characters"},
		{"max_command_run_seconds too large", with("max_command_run_seconds", 1e9), "body/max_command_run_seconds", "at most"},
		{"max_command_run_seconds negative", with("max_command_run_seconds", -5), "body/max_command_run_seconds", "more than 0"},
		{"bad webhook_url", with("webhook_url", "not a url"), "body/webhook_url", ""},
		{"an input URL that is not a string", with("input_files", map[string]any{"in_video": 5}), "body/input_files/in_video", "must be a string"},
		{"an output name that is not a string", with("output_files", map[string]any{"out_video": true}), "body/output_files/out_video", "must be a string"},
		{"ffmpeg_command not a string", with("ffmpeg_command", []any{"-i"}), "body/ffmpeg_command", "must be a string"},
		{"field names are case-sensitive", map[string]any{"input_files": map[string]any{"in_video": in}, "output_files": map[string]any{"out_video": "out.mp4"}, "FFMPEG_COMMAND": "-i {{in_video}} {{out_video}}"}, "body/ffmpeg_command", "required"},
		{"max_command_run_seconds not a number", with("max_command_run_seconds", "10"), "body/max_command_run_seconds", "must be a number"},
		{"metadata not an object", with("metadata", "x"), "body/metadata", "object"},
		{"a literal path out of the work dir", with("ffmpeg_command", "-i {{in_video}} -i ../../openrender.db {{out_video}}"), "body/ffmpeg_command/../../openrender.db", "input placeholder"},
		{"a literal URL", with("ffmpeg_command", "-i {{in_video}} -i http://169.254.169.254/ {{out_video}}"), "body/ffmpeg_command/http://169.254.169.254/", "URLs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e api.Error
			code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, c.body, &e)
			if code != 422 || e.Error != "VALIDATION_ERROR" || e.Message == "" {
				t.Fatalf("got %d %+v, want 422 VALIDATION_ERROR", code, e)
			}
			var locs []string
			for _, d := range e.Detail {
				loc := joinLoc(d.Loc)
				locs = append(locs, loc)
				if loc == c.wantLoc && strings.Contains(d.Msg, c.wantMsg) && d.Type == "value_error" {
					return
				}
			}
			t.Fatalf("no detail at %s mentioning %q; got %s (%+v)", c.wantLoc, c.wantMsg, locs, e.Detail)
		})
	}

	t.Run("nothing is created by an invalid request", func(t *testing.T) {
		var page api.CommandList
		s.call(t, "GET", "/api/v1/commands", s.Key, nil, &page)
		if len(page.Commands) != 0 {
			t.Fatalf("%d commands exist after only invalid requests", len(page.Commands))
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{}})
	var e api.Error
	for name, body := range map[string]string{"not JSON": "{not json", "empty": "", "truncated": `{"ffmpeg_command": "-i`, "trailing data": `{"ffmpeg_command": "x"} {}`} {
		if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &e); code != 400 || e.Error != "INVALID_REQUEST" {
			t.Errorf("%s: %d %+v, want 400 INVALID_REQUEST", name, code, e)
		}
	}
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, `["an","array"]`, &e); code != 422 {
		t.Errorf("a JSON array: %d, want 422", code)
	}
	big := `{"ffmpeg_command": "` + strings.Repeat("a", httpapi.DefaultMaxBodyBytes) + `"}`
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, big, &e); code != 413 || e.Error != "PAYLOAD_TOO_LARGE" {
		t.Errorf("a body over the cap: %d %+v, want 413", code, e)
	}
	if code := s.call(t, "DELETE", "/api/v1/run-ffmpeg-command", s.Key, nil, &e); code != 405 || e.Error == "" {
		t.Errorf("wrong method: %d %+v, want 405 with the error body", code, e)
	}
	if code := s.call(t, "GET", "/api/v1/no-such-endpoint", s.Key, nil, &e); code != 404 || e.Error != "NOT_FOUND" {
		t.Errorf("unknown path: %d %+v, want 404", code, e)
	}
}

// metadata comes back exactly as sent: big integers digit for digit, an
// empty object as an empty object, no metadata as null.
func TestMetadataEchoesAsSubmitted(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	submit := func(metadata string) map[string]json.RawMessage {
		body := `{"output_files": {"out_video": "a.mp4"}, "ffmpeg_command": "-f lavfi -i testsrc=duration=1 {{out_video}}"` + metadata + `}`
		var c api.CommandID
		if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &c); code != 200 {
			t.Fatalf("submit %s: %d", metadata, code)
		}
		var obj map[string]json.RawMessage
		s.call(t, "GET", "/api/v1/commands/"+c.CommandID, s.Key, nil, &obj)
		return obj
	}
	if got := string(submit(`, "metadata": {"order": 12345678901234567890, "ratio": 0.1, "ok": true, "name": "x"}`)["metadata"]); got != `{"name":"x","ok":true,"order":12345678901234567890,"ratio":0.1}` {
		t.Errorf("metadata = %s", got)
	}
	if got := string(submit(`, "metadata": {}`)["metadata"]); got != `{}` {
		t.Errorf("empty metadata = %s, want {}", got)
	}
	if got := string(submit(``)["metadata"]); got != `null` {
		t.Errorf("absent metadata = %s, want null", got)
	}
}

func TestListPaging(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	var ids []string
	for i := 0; i < 7; i++ {
		var c api.CommandID
		s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
			"output_files":   map[string]any{"out_video": "a.mp4"},
			"ffmpeg_command": fmt.Sprintf("-f lavfi -i testsrc=duration=%d {{out_video}}", i+1)}, &c)
		ids = append(ids, c.CommandID)
	}
	var seen []string
	for offset := 0; ; offset += 3 {
		var page api.CommandList
		if code := s.call(t, "GET", fmt.Sprintf("/api/v1/commands?limit=3&offset=%d", offset), s.Key, nil, &page); code != 200 {
			t.Fatalf("page at %d: %d", offset, code)
		}
		if page.Limit != 3 || page.Offset != offset {
			t.Errorf("page echoes limit %d offset %d", page.Limit, page.Offset)
		}
		for _, c := range page.Commands {
			seen = append(seen, c.CommandID)
		}
		if len(page.Commands) < 3 {
			break
		}
	}
	for i := range ids { // newest first
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("paged order %v, want newest first of %v", seen, ids)
		}
	}
	var page api.CommandList
	s.call(t, "GET", "/api/v1/commands?limit=500", s.Key, nil, &page)
	if page.Limit != 100 || len(page.Commands) != 7 {
		t.Errorf("limit=500 is capped to 100: got limit %d, %d commands", page.Limit, len(page.Commands))
	}
	s.call(t, "GET", "/api/v1/commands?status=QUEUED", s.Key, nil, &page)
	if len(page.Commands) != 7 || page.Limit != 50 {
		t.Errorf("status=QUEUED: %d commands, limit %d", len(page.Commands), page.Limit)
	}
	s.call(t, "GET", "/api/v1/commands?status=SUCCESS", s.Key, nil, &page)
	if len(page.Commands) != 0 {
		t.Errorf("status=SUCCESS: %d commands", len(page.Commands))
	}
	for _, q := range []string{"limit=0", "limit=x", "offset=-1", "status=DONE"} {
		var e api.Error
		if code := s.call(t, "GET", "/api/v1/commands?"+q, s.Key, nil, &e); code != 422 || len(e.Detail) != 1 || e.Detail[0].Loc[0] != "query" {
			t.Errorf("%s: %d %+v, want 422 naming the query parameter", q, code, e)
		}
	}
}

type answer struct {
	code int
	body []byte
}

func get(t *testing.T, u, rangeHeader string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func jsonRoundTrip(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

func joinLoc(loc []any) string {
	parts := make([]string, len(loc))
	for i, l := range loc {
		parts[i] = fmt.Sprint(l)
	}
	return strings.Join(parts, "/")
}

func manyKeys(n int) map[string]any {
	m := map[string]any{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("k%d", i)] = i
	}
	return m
}
