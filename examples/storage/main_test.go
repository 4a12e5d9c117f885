package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// The same program on file://, mem:// and an S3-compatible server (an
// in-memory S3 on 127.0.0.1): upload a file, run a command on its
// storage_url, download the output.
func TestStorageBackends(t *testing.T) {
	testutil.RequireFFmpeg(t)
	clip := testutil.MakeClip(t, t.TempDir(), "in.mp4", testutil.Clip{Seconds: 1, Size: "160x120"})
	for _, tc := range []struct {
		name    string
		url     func(t *testing.T) string
		linkHas string
	}{
		{"file", func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "files") }, "/storage/"},
		{"mem", func(t *testing.T) string { return "mem://" }, "/storage/"},
		{"s3", fakeS3, "X-Amz-Signature="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type ready struct{ base, key string }
			readyc := make(chan ready, 1)
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, config{StorageURL: tc.url(t), Addr: "127.0.0.1:0", DataDir: t.TempDir(), Out: io.Discard,
					Ready: func(base, key string) { readyc <- ready{base, key} }})
			}()
			var app ready
			select {
			case app = <-readyc:
			case err := <-done:
				t.Fatalf("run ended before serving: %v", err)
			}
			c := client.New(app.base, app.key, client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond))

			f, err := os.Open(clip)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fileID, err := c.UploadFile(ctx, "in.mp4", f)
			if err != nil {
				t.Fatal(err)
			}
			up, err := c.GetFile(ctx, fileID)
			if err != nil || up.StorageURL == nil || !strings.Contains(*up.StorageURL, tc.linkHas) {
				t.Fatalf("uploaded file: %+v, %v; want a link containing %q", up, err, tc.linkHas)
			}
			id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
				InputFiles:    map[string]string{"in_video": *up.StorageURL},
				OutputFiles:   map[string]string{"out_image": "frame.png"},
				FFmpegCommand: "-i {{in_video}} -frames:v 1 {{out_image}}",
			})
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := c.WaitForCommand(ctx, id)
			if err != nil || cmd.Err() != nil {
				t.Fatalf("command: %v, %v", err, cmd.Err())
			}
			link := *cmd.OutputFiles["out_image"].StorageURL
			var png strings.Builder
			if _, err := c.Download(ctx, link, &png); err != nil || !strings.HasPrefix(png.String(), "\x89PNG") || !strings.Contains(link, tc.linkHas) {
				t.Errorf("output %s: %v (%d bytes)", link, err, png.Len())
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("run after cancel: %v", err)
			}
		})
	}
}

// fakeS3 serves an in-memory S3 on 127.0.0.1 and returns the s3:// URL of
// a fresh bucket in it for the real S3 driver.
func fakeS3(t *testing.T) string {
	backend := s3mem.New()
	if err := backend.CreateBucket("example"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test-key-id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return "s3://example?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
}
