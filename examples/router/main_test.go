package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// Behind chi: the router's own route, OpenRender's API and its storage
// links under /render, and OpenRender's JSON errors for its unknown paths.
func TestRouter(t *testing.T) {
	testutil.RequireFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ready struct{ base, key string }
	readyc := make(chan ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", t.TempDir(), io.Discard, func(base, key string) { readyc <- ready{base, key} })
	}()
	var app ready
	select {
	case app = <-readyc:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	}

	resp, err := http.Get(app.base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello from chi") {
		t.Errorf("chi's own route: %d %s", resp.StatusCode, body)
	}

	c := client.New(app.base+"/render", app.key, client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond))
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "tone.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=0.2 {{out_a}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil || cmd.Err() != nil {
		t.Fatalf("command: %v, %v", err, cmd.Err())
	}
	var wav strings.Builder
	if _, err := c.Download(ctx, *cmd.OutputFiles["out_a"].StorageURL, &wav); err != nil || !strings.HasPrefix(wav.String(), "RIFF") {
		t.Errorf("download through chi: %v (%d bytes)", err, wav.Len())
	}
	var e *client.Error
	if _, err := c.GetCommand(ctx, "nope"); !errors.As(err, &e) || e.Code != api.CodeNotFound {
		t.Errorf("an unknown command through chi: %v", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}
