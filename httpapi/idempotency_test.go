package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/internal/testutil"
)

// A request whose body was cut short (the client's connection failed while
// sending it) must not use up its Idempotency-Key: the client never saw an
// answer, and its retry with the whole body is exactly what the key is for.
func TestIdempotencyKeyFreeAfterTruncatedBody(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	body, _ := json.Marshal(map[string]any{
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-f lavfi -i testsrc=duration=1 {{out_video}}",
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/run-ffmpeg-command HTTP/1.1\r\nHost: x\r\nX-API-KEY: %s\r\n"+
		"Content-Type: application/json\r\nIdempotency-Key: retry-me\r\nContent-Length: %d\r\n\r\n%s",
		s.Key, len(body), body[:len(body)/2])
	conn.(*net.TCPConn).CloseWrite() // the rest never comes
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("half a body answered %d", resp.StatusCode)
	}

	code, hdr, b := post(t, s, "/api/v1/run-ffmpeg-command", map[string]string{"Idempotency-Key": "retry-me"}, body)
	var id api.CommandID
	json.Unmarshal(b, &id)
	if code != 200 || id.CommandID == "" || hdr.Get("Idempotent-Replayed") != "" {
		t.Errorf("the retry with the whole body answered %d %s (replayed %q), want a new command", code, b, hdr.Get("Idempotent-Replayed"))
	}
}

// Idempotency keys are per account: another account using the same key
// with the same body gets its own command, never the first account's answer.
func TestIdempotencyKeysPerAccount(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	body, _ := json.Marshal(map[string]any{
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-f lavfi -i testsrc=duration=1 {{out_video}}",
	})
	hdr := map[string]string{"Idempotency-Key": "shared"}
	code1, _, b1 := post(t, s, "/api/v1/run-ffmpeg-command", hdr, body)
	env2 := *s.Env
	env2.Key = s.otherKey(t)
	s2 := &server{Env: &env2, URL: s.URL}
	code2, h2, b2 := post(t, s2, "/api/v1/run-ffmpeg-command", hdr, body)
	var id1, id2 api.CommandID
	json.Unmarshal(b1, &id1)
	json.Unmarshal(b2, &id2)
	if code1 != 200 || code2 != 200 || id1.CommandID == "" || id1.CommandID == id2.CommandID || h2.Get("Idempotent-Replayed") != "" {
		t.Errorf("two accounts, one key: %d %s / %d %s (replayed %q)", code1, b1, code2, b2, h2.Get("Idempotent-Replayed"))
	}
	// The second account can't see the first's command either.
	if code := s2.call(t, "GET", "/api/v1/commands/"+id1.CommandID, s2.Key, nil, nil); code != 404 {
		t.Errorf("the other account's command: %d, want 404", code)
	}
}
