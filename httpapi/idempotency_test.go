package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
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

// The key works on every POST that creates something, not only single
// commands: a repeat of a chain, a batch, a preset, a preset execution or a
// stored-file request replays the first answer and creates nothing more.
func TestIdempotencyOnEveryCreatingPost(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true}) // nothing runs: only records count
	one := map[string]any{
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-f lavfi -i testsrc=duration=1:size=160x120:rate=10 {{out_video}}",
	}
	var preset map[string]any
	if code := s.call(t, "POST", "/api/v1/presets", s.Key, map[string]any{
		"name": "p", "ffmpeg_command": "-i {{in_video}} -t 1 {{out_video}}",
		"input_file_keys": []string{"in_video"}, "output_file_definitions": map[string]string{"out_video": "p.mp4"},
	}, &preset); code != 201 {
		t.Fatalf("create preset: %d", code)
	}
	cases := []struct {
		path string
		body any
	}{
		{"/api/v1/run-chained-ffmpeg-commands", map[string]any{
			"output_files": map[string]string{"out_video": "out.mp4"}, "ffmpeg_commands": []string{one["ffmpeg_command"].(string)}}},
		{"/api/v1/run-multiple-ffmpeg-commands", map[string]any{"commands": []any{one, one}}},
		{"/api/v1/presets", map[string]any{
			"name": "q", "ffmpeg_command": "-i {{in_video}} -t 1 {{out_video}}",
			"input_file_keys": []string{"in_video"}, "output_file_definitions": map[string]string{"out_video": "q.mp4"}}},
		{"/api/v1/presets/" + preset["preset_id"].(string) + "/execute", map[string]any{
			"input_files": map[string]string{"in_video": "http://127.0.0.1:9/in.mp4"}}},
		{"/api/v1/files/store-file", map[string]any{"file_url": "http://127.0.0.1:9/in.mp4"}},
	}
	for i, c := range cases {
		body, _ := json.Marshal(c.body)
		hdr := map[string]string{"Idempotency-Key": fmt.Sprintf("every-post-%d", i)}
		code1, _, first := post(t, s, c.path, hdr, body)
		if code1 >= 300 {
			t.Errorf("%s: first answer %d %s", c.path, code1, first)
			continue
		}
		code2, h2, second := post(t, s, c.path, hdr, body)
		if code2 != code1 || !bytes.Equal(first, second) || h2.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s: repeat answered %d %s (replayed %q); want the first answer %d %s", c.path, code2, second, h2.Get("Idempotent-Replayed"), code1, first)
		}
	}
	// Created once each: 1 (chain) + 2 (batch) + 1 (execute) commands, 2 presets.
	cmds, err := s.Store.ListCommands(context.Background(), store.CommandQuery{AccountID: s.Account.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 4 {
		t.Errorf("%d commands exist; want 4 (each creating POST once)", len(cmds))
	}
	presets, err := s.Store.ListPresets(context.Background(), store.PresetQuery{AccountID: s.Account.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(presets) != 2 {
		t.Errorf("%d presets exist; want 2", len(presets))
	}
}

// A key holds for 24 hours (engine.DefaultIdempotencyTTL): within them the
// same request replays the first answer; after them it is a new request.
func TestIdempotencyKeyExpiresAfter24Hours(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newServer(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{Now: clock.Now}})
	body, _ := json.Marshal(map[string]any{
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-f lavfi -i testsrc=duration=1:size=160x120:rate=10 {{out_video}}",
	})
	hdr := map[string]string{"Idempotency-Key": "daily"}
	submit := func() string {
		t.Helper()
		code, _, b := post(t, s, "/api/v1/run-ffmpeg-command", hdr, body)
		var out api.CommandID
		if code != 200 || json.Unmarshal(b, &out) != nil || out.CommandID == "" {
			t.Fatalf("submit: %d %s", code, b)
		}
		return out.CommandID
	}
	first := submit()
	clock.Add(23 * time.Hour)
	if again := submit(); again != first {
		t.Errorf("23 h later the key gave a new command %s; want the first, %s", again, first)
	}
	clock.Add(2 * time.Hour)
	if later := submit(); later == first {
		t.Errorf("25 h later the key still replays %s; want a new command", first)
	}
}
