package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
)

// notYetServed are operations the OpenAPI document describes ahead of the
// routes that serve them. Once a route serves one, this test fails until it
// is removed from here, so the list only shrinks; today it is empty.
var notYetServed = map[string]bool{}

func fetchOpenAPI(t *testing.T, base string) []byte {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/openapi.json") // no API key: it is public
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The served document is valid OpenAPI 3.1, checked by a real validator
// against the specification's own schema.
func TestOpenAPIDocumentValidates(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	raw := fetchOpenAPI(t, s.URL)
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("libopenapi: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Errorf("OpenAPI version %q, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("building the validator: %v", errs)
	}
	if ok, problems := v.ValidateDocument(); !ok {
		for _, p := range problems {
			t.Errorf("invalid: %s: %s", p.Message, p.Reason)
			for _, se := range p.SchemaValidationErrors {
				t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
			}
		}
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Errorf("building the model: %v", err)
	}
}

// The document and the route table agree: every route is documented, and
// every documented operation is served (but for notYetServed).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	h := httpapi.New(env.Engine, httpapi.Config{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(fetchOpenAPI(t, srv.URL), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	routes := httpapi.Routes(h)
	if len(routes) == 0 {
		t.Fatal("httpapi.Routes returned no routes")
	}
	served := map[string]bool{}
	for _, r := range routes {
		// ServeMux's {name...} wildcard is an ordinary path parameter in OpenAPI.
		path := strings.ReplaceAll(r.Path, "...}", "}")
		op := r.Method + " " + path
		served[op] = true
		if !documented[op] {
			t.Errorf("route %s is not in the OpenAPI document", op)
		}
		if notYetServed[op] {
			t.Errorf("route %s is served now: remove it from notYetServed", op)
		}
	}
	var extra []string
	for op := range documented {
		if !served[op] && !notYetServed[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(extra)
	for _, op := range extra {
		t.Errorf("the OpenAPI document describes %s, which no route serves", op)
	}
}

// The document describes what the preset and batch routes really accept
// and answer: real requests and their answers are checked against it by
// the validator (request bodies, status codes, response bodies).
func TestOpenAPIDescribesPresetAndBatchAnswers(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	doc, err := libopenapi.NewDocument(fetchOpenAPI(t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("building the validator: %v", errs)
	}
	check := func(method, path string, body any, wantCode int) map[string]any {
		t.Helper()
		var raw []byte
		if body != nil {
			raw, _ = json.Marshal(body)
		}
		newReq := func() *http.Request {
			req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(raw))
			req.Header.Set("X-API-KEY", s.Key)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req
		}
		resp, err := http.DefaultClient.Do(newReq())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantCode {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, got, wantCode)
		}
		resp.Body = io.NopCloser(bytes.NewReader(got))
		if ok, problems := v.ValidateHttpRequestResponse(newReq(), resp); !ok {
			for _, p := range problems {
				t.Errorf("%s %s (%d): %s: %s", method, path, resp.StatusCode, p.Message, p.Reason)
				for _, se := range p.SchemaValidationErrors {
					t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
				}
			}
		}
		var out map[string]any
		json.Unmarshal(got, &out)
		return out
	}

	created := check("POST", "/api/v1/presets", map[string]any{
		"name":                    "thumb",
		"input_file_keys":         []string{"in_video"},
		"output_file_definitions": map[string]string{"out_img": "thumb.jpg"},
		"ffmpeg_command":          "-i {{in_video}} -frames:v 1 {{out_img}}",
	}, 201)
	id, _ := created["preset_id"].(string)
	check("GET", "/api/v1/presets/"+id, nil, 200)
	check("GET", "/api/v1/presets?limit=100", nil, 200)
	check("PUT", "/api/v1/presets/"+id, map[string]any{"description": "one frame"}, 200)
	check("POST", "/api/v1/presets/"+id+"/execute", map[string]any{
		"input_files":             map[string]string{"in_video": "https://example.com/a.mp4"},
		"max_command_run_seconds": 60,
	}, 200)
	check("DELETE", "/api/v1/presets/"+id, nil, 200)
	check("DELETE", "/api/v1/presets/prs_system_mp4_720p", nil, 403)
	check("PUT", "/api/v1/presets/prs_system_mp4_720p", map[string]any{"name": "mine"}, 403)

	entry := map[string]any{
		"output_files":            map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command":          "-f lavfi -i testsrc=duration=1 {{out_video}}",
		"webhook_url":             "https://example.com/hook",
		"max_command_run_seconds": 30,
	}
	check("POST", "/api/v1/run-multiple-ffmpeg-commands", map[string]any{"commands": []any{entry, entry}}, 200)
	chained := check("POST", "/api/v1/run-chained-ffmpeg-commands", map[string]any{
		"output_files":    map[string]string{"out_video": "out.mp4"},
		"ffmpeg_commands": []string{"-f lavfi -i testsrc=duration=1 {{out_video}}"},
	}, 200)
	cid, _ := chained["command_id"].(string)
	check("GET", "/api/v1/commands/"+cid, nil, 200)
	check("POST", "/api/v1/commands/"+cid+"/cancel", nil, 200)
	check("POST", "/api/v1/commands/"+cid+"/cancel", nil, 409)
	check("GET", "/api/v1/commands?limit=100", nil, 200)
}
