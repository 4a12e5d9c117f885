package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// Both notifiers hear about a finished command, once each.
func TestNotifier(t *testing.T) {
	testutil.RequireFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logr, logw := io.Pipe()
	type ready struct{ base, key string }
	readyc := make(chan ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Out: logw,
			Ready: func(base, key string) { readyc <- ready{base, key} }})
		logw.Close()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(logr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var app ready
	select {
	case app = <-readyc:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	}

	c := client.New(app.base, app.key, client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond))
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=0.2 {{out_a}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{`msg="command finished"`: false, `msg="the app got a finished command"`: false}
	timeout := time.After(time.Minute)
	for missing := len(want); missing > 0; {
		select {
		case line := <-lines:
			for w, seen := range want {
				if !seen && strings.Contains(line, w) && strings.Contains(line, "command_id="+id) && strings.Contains(line, "status=SUCCESS") {
					want[w] = true
					missing--
				}
			}
		case <-timeout:
			t.Fatalf("the notifiers did not both report %s: %v", id, want)
		}
	}
	cancel()
	for range lines { // drain, so run's logging never blocks on the pipe
	}
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}
