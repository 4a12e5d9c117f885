package httpapi

import (
	"net/http"
	"sort"
	"strings"
)

// routeMux is the handler's ServeMux, remembering every pattern registered
// on it: the route table that the OpenAPI document is checked against (see
// openapi_test.go) and that labels the HTTP metrics. Routes are added with
// h.mux.Handle or h.mux.HandleFunc as on any ServeMux, so a route added
// later is in the table without anyone having to remember it.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// Handle registers handler for pattern, like http.ServeMux.Handle.
func (m *routeMux) Handle(pattern string, handler http.Handler) {
	m.ServeMux.Handle(pattern, handler)
	m.patterns = append(m.patterns, pattern)
}

// HandleFunc registers handler for pattern, like http.ServeMux.HandleFunc.
func (m *routeMux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(handler))
}

// Route is one registered route: an HTTP method and a ServeMux path
// pattern ("/api/v1/commands/{id}").
type Route struct {
	Method string
	Path   string
}

// routes lists the registered routes, sorted.
func (m *routeMux) routes() []Route {
	out := make([]Route, 0, len(m.patterns))
	for _, p := range m.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		out = append(out, Route{Method: method, Path: path})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Routes returns the route table of a handler made by New: every method
// and path pattern it serves, sorted (nil for any other handler). The
// OpenAPI document served at /api/v1/openapi.json is tested against it.
func Routes(h http.Handler) []Route {
	if hh, ok := h.(*handler); ok {
		return hh.mux.routes()
	}
	return nil
}
