package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// The app serves its own route and OpenRender under /render/, a command
// runs through the mounted API with its output link under the prefix, and
// cancelling the app's context stops everything.
func TestEmbed(t *testing.T) {
	testutil.RequireFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ready struct{ base, key string }
	readyc := make(chan ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Out: io.Discard,
			Ready: func(base, key string) { readyc <- ready{base, key} }})
	}()
	var app ready
	select {
	case app = <-readyc:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	}

	resp, err := http.Get(app.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Welcome") {
		t.Errorf("the app's own route: %d %s", resp.StatusCode, body)
	}

	c := client.New(app.base+"/render", app.key, client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond))
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_image": "frame.png"},
		FFmpegCommand: "-f lavfi -i color=c=blue:size=32x32:duration=1 -frames:v 1 {{out_image}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil || cmd.Err() != nil {
		t.Fatalf("command: %v, %v", err, cmd.Err())
	}
	link := *cmd.OutputFiles["out_image"].StorageURL
	if !strings.HasPrefix(link, app.base+"/render/storage/") {
		t.Errorf("storage_url %s is not under the app's prefix", link)
	}
	var png strings.Builder
	if _, err := c.Download(ctx, link, &png); err != nil || !strings.HasPrefix(png.String(), "\x89PNG") {
		t.Errorf("download: %v (%d bytes)", err, png.Len())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return after its context was cancelled")
	}
	if _, err := http.Get(app.base + "/"); err == nil {
		t.Error("the app still serves after its context was cancelled")
	}
}

// Embedding costs no cloud SDK: only examples/storage, which asks for the
// S3 driver, links one.
func TestExamplesLinkNoCloudSDK(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	for _, ex := range []string{"embed", "router", "notifier", "receiver"} {
		out, err := exec.Command(goBin, "list", "-deps", "github.com/openrender/openrender/examples/"+ex).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/aws/") || strings.HasPrefix(dep, "cloud.google.com/") ||
				strings.HasPrefix(dep, "github.com/Azure/") || strings.HasPrefix(dep, "gocloud.dev/blob/s3blob") {
				t.Errorf("examples/%s links %s", ex, dep)
			}
		}
	}
}
