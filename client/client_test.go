package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/internal/testutil"
)

var mediaDir string

func TestMain(m *testing.M) { os.Exit(testutil.RunWithTempDir(m, &mediaDir)) }

// server is a real engine behind a real httpapi handler on 127.0.0.1.
type server struct {
	*testutil.Env
	URL string
}

func newServer(t *testing.T, o testutil.EnvOptions) *server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	o.PublicURL = base
	env := testutil.NewEnv(t, o)
	srv.Config.Handler = httpapi.New(env.Engine, httpapi.Config{})
	srv.Start()
	t.Cleanup(srv.Close)
	return &server{Env: env, URL: base}
}

// fast polls every 20 ms: tests wait for real commands, not for the
// one-second courtesy the contract asks of production clients.
func (s *server) client(opts ...client.Option) *client.Client {
	return client.New(s.URL, s.Key, append([]client.Option{client.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)}, opts...)...)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// A command runs from submission to a downloaded output, and the command
// object comes back typed, with the list and the file API agreeing.
func TestRunWaitDownload(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 1, Size: "160x120"})
	files := testutil.ServeDir(t, mediaDir)
	ctx := ctxFor(t)
	c := s.client()

	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		InputFiles:    map[string]string{"in_video": files.URL + "/in.mp4"},
		OutputFiles:   map[string]string{"out_video": "half.mp4"},
		FFmpegCommand: "ffmpeg -i {{in_video}} -vf scale=80:-2 -c:v libx264 -preset ultrafast {{out_video}}",
		Metadata:      map[string]any{"job": "t1", "n": 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	cmd, err := c.WaitForCommand(ctx, id, client.OnUpdate(func(c *client.Command) { seen = append(seen, c.Status) }))
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Status != client.StatusSuccess || cmd.Err() != nil || !cmd.Done() {
		t.Fatalf("command ended %s (%v)", cmd.Status, cmd.Err())
	}
	if len(seen) == 0 || seen[len(seen)-1] != client.StatusSuccess {
		t.Errorf("OnUpdate saw %v; want the final SUCCESS last", seen)
	}
	if cmd.CommandType != client.TypeFFmpegCommand || cmd.Metadata["job"] != "t1" || cmd.TotalProcessingSeconds == nil {
		t.Errorf("command object: %+v", cmd.Command)
	}
	out := cmd.OutputFiles["out_video"]
	if out.Status != client.FileStored || out.StorageURL == nil || out.Width == nil || *out.Width != 80 {
		t.Fatalf("output: %+v", out)
	}
	var buf bytes.Buffer
	n, err := c.Download(ctx, *out.StorageURL, &buf)
	if err != nil || n == 0 || !bytes.Contains(buf.Bytes()[:min(64, buf.Len())], []byte("ftyp")) {
		t.Fatalf("Download: %d bytes, %v", n, err)
	}

	got, err := c.GetCommand(ctx, id)
	if err != nil || got.CommandID != id || got.Status != client.StatusSuccess {
		t.Fatalf("GetCommand: %+v, %v", got, err)
	}
	list, err := c.ListCommands(ctx, client.ListCommandsOptions{Limit: 1, Status: client.StatusSuccess})
	if err != nil || len(list.Commands) != 1 || list.Commands[0].CommandID != id || list.Limit != 1 {
		t.Fatalf("ListCommands: %+v, %v", list, err)
	}
	if list, err := c.ListCommands(ctx, client.ListCommandsOptions{Status: client.StatusFailed}); err != nil || len(list.Commands) != 0 {
		t.Fatalf("ListCommands(FAILED): %+v, %v", list, err)
	}
	f, err := c.GetFile(ctx, out.FileID)
	if err != nil || f.FileName != "half.mp4" || f.Status != client.FileStored {
		t.Fatalf("GetFile(output): %+v, %v", f, err)
	}
	deleted, err := c.DeleteCommandFiles(ctx, id)
	if err != nil || deleted != 1 {
		t.Fatalf("DeleteCommandFiles: %d, %v", deleted, err)
	}
	if got, _ := c.GetCommand(ctx, id); !got.OutputFiles["out_video"].IsDeleted {
		t.Errorf("output not marked deleted: %+v", got.OutputFiles)
	}
	_ = clip
}

// A command that ffmpeg fails comes back FAILED with a nil error from
// WaitForCommand, and Err carries error_status and error_message.
func TestFailedCommand(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()
	// The input URL answers 404: the command fails before ffmpeg runs.
	files := testutil.ServeDir(t, t.TempDir())
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		InputFiles:    map[string]string{"in_video": files.URL + "/missing.mp4"},
		OutputFiles:   map[string]string{"out_video": "a.mp4"},
		FFmpegCommand: "-i {{in_video}} {{out_video}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var ce *client.CommandError
	if !errors.As(cmd.Err(), &ce) || ce.ErrorStatus != "UNREACHABLE_INPUT_FILE" || ce.CommandID != id || ce.ErrorMessage == "" {
		t.Fatalf("Err() = %v; want a CommandError with UNREACHABLE_INPUT_FILE", cmd.Err())
	}
	if !strings.Contains(ce.Error(), "UNREACHABLE_INPUT_FILE") {
		t.Errorf("CommandError text %q", ce.Error())
	}
}

// Every 4xx answer decodes into *client.Error with the contract's code,
// message and detail.
func TestErrorDecoding(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()

	_, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_video": "../a.mp4"},
		FFmpegCommand: "-f lavfi -i testsrc=duration=1 {{out_video}}",
	})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 422 || e.Code != api.CodeValidationError || e.Message == "" || len(e.Detail) == 0 {
		t.Fatalf("invalid output name: %#v", err)
	}
	if loc := e.Detail[0].Loc; len(loc) < 3 || loc[0] != "body" || loc[1] != "output_files" || loc[2] != "out_video" {
		t.Errorf("detail loc %v; want body.output_files.out_video", loc)
	}
	if !strings.Contains(err.Error(), "VALIDATION_ERROR") || !strings.Contains(err.Error(), "body.output_files.out_video") {
		t.Errorf("Error() = %q", err.Error())
	}

	_, err = c.GetCommand(ctx, "00000000-0000-0000-0000-000000000000")
	if !errors.As(err, &e) || e.StatusCode != 404 || e.Code != api.CodeNotFound {
		t.Errorf("unknown command: %#v", err)
	}
	if err := c.DeleteFile(ctx, "00000000-0000-0000-0000-000000000000"); !errors.As(err, &e) || e.Code != api.CodeNotFound {
		t.Errorf("DeleteFile(unknown): %#v", err)
	}

	bad := client.New(s.URL, "ffsk_"+strings.Repeat("0", 64))
	_, err = bad.ListCommands(ctx, client.ListCommandsOptions{Limit: 1})
	if !errors.As(err, &e) || e.StatusCode != 401 || e.Code != api.CodeUnauthorized {
		t.Errorf("wrong key: %#v", err)
	}
	if _, err := c.ListCommands(ctx, client.ListCommandsOptions{Status: "NOPE"}); !errors.As(err, &e) || e.StatusCode != 422 {
		t.Errorf("bad status filter: %#v", err)
	}

	// A server that does not speak the contract: the error keeps the
	// status and a readable start of the body.
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer html.Close()
	_, err = client.New(html.URL, "k").GetCommand(ctx, "x")
	if !errors.As(err, &e) || e.StatusCode != 502 || e.Code != "" || !strings.Contains(e.Message, "bad gateway") || e.RetryAfter != 7*time.Second {
		t.Errorf("non-contract answer: %#v", err)
	}
}

// WaitForCommand returns the context's error as soon as it is cancelled,
// while the command is still queued.
func TestWaitForCommandCancelledByContext(t *testing.T) {
	// The engine is not started, so the command stays QUEUED.
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	c := s.client(client.WithPollInterval(time.Hour, time.Hour)) // only ctx can end the wait
	id, err := c.RunFFmpegCommand(ctxFor(t), client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=1 {{out_a}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.WaitForCommand(ctx, id, client.OnUpdate(func(cmd *client.Command) {
			if cmd.Status == client.StatusQueued {
				close(polled)
			}
		}))
		done <- err
	}()
	<-polled
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitForCommand after cancel: %v; want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitForCommand did not return after its context was cancelled")
	}

	// A deadline ends it the same way.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.WaitForCommand(ctx, id); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForCommand past its deadline: %v", err)
	}
}
