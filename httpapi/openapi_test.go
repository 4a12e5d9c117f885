package httpapi_test

import (
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
