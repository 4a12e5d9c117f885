package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
)

// /metrics is public and its label values must come from a bounded set: a
// client inventing HTTP methods (any token is a valid method) must not add
// a time series per request.
func TestMetricsLabelsBounded(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	for i := range 3 {
		for _, path := range []string{"/api/v1/commands", "/no/such/path/" + fmt.Sprint(i)} {
			req, _ := http.NewRequest(fmt.Sprintf("BREW%d", i), s.URL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := string(b)
	if strings.Contains(m, "BREW") || strings.Contains(m, "/no/such/path") {
		t.Errorf("/metrics has labels a client chose:\n%s", grepLines(m, "openrender_http_requests_total"))
	}
	if !strings.Contains(m, `openrender_http_requests_total{code="405",method="OTHER",route="unmatched"} 3`) {
		t.Errorf("invented methods are not counted as OTHER:\n%s", grepLines(m, "openrender_http_requests_total"))
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// An event stream's keep-alive writer stops before the handler returns:
// once it has, the response belongs to net/http again, and a late write
// would land in a finished (or reused) response. Run with -race.
func TestEventStreamKeepAliveStopsWithStream(t *testing.T) {
	defer httpapi.SetSSEKeepAlive(time.Microsecond)()
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	var sub api.CommandID
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, slowCommand(), &sub); code != 200 {
		t.Fatalf("submit: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/commands/"+sub.CommandID+"/cancel", s.Key, nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	for range 200 {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/commands/"+sub.CommandID+"/events", nil)
		req.Header.Set("X-API-KEY", s.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(b), `"status":"FAILED"`) {
			t.Fatalf("stream of a finished command: %d %v %q", resp.StatusCode, err, b)
		}
	}
}
