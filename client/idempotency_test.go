package client_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// A POST repeated with the same Idempotency-Key creates nothing new and
// answers the first answer again; the key with another request is a 422;
// an upload repeated with its key is one file.
func TestIdempotencyKey(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true}) // commands stay QUEUED: nothing to wait for
	ctx := ctxFor(t)
	c := s.client()
	req := client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=1 {{out_a}}",
	}
	keyed := client.WithIdempotencyKey(ctx, "order-1234")
	first, err := c.RunFFmpegCommand(keyed, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.RunFFmpegCommand(keyed, req)
	if err != nil || again != first {
		t.Fatalf("repeat with the key: %q, %v; want the first id %q", again, err, first)
	}
	list, err := c.ListCommands(ctx, client.ListCommandsOptions{})
	if err != nil || len(list.Commands) != 1 {
		t.Fatalf("after two keyed submits: %d commands, %v; want 1", len(list.Commands), err)
	}

	// The same key with a different body.
	other := req
	other.Metadata = map[string]any{"n": 2}
	_, err = c.RunFFmpegCommand(keyed, other)
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnprocessableEntity || e.Code != api.CodeValidationError {
		t.Errorf("key reused with another body: %v; want 422", err)
	}

	// Without a key every submit is new.
	if id, err := c.RunFFmpegCommand(ctx, req); err != nil || id == first {
		t.Errorf("unkeyed submit: %q, %v; want a new command", id, err)
	}

	// A multipart upload is one file too: the boundary follows the key.
	upKey := client.WithIdempotencyKey(ctx, "upload-1")
	f1, err := c.UploadFile(upKey, "a.txt", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	f2, err := c.UploadFile(upKey, "a.txt", strings.NewReader("hello"))
	if err != nil || f2 != f1 {
		t.Errorf("repeated keyed upload: %q, %v; want the first file %q", f2, err, f1)
	}
	files, err := c.ListFiles(ctx, client.ListOptions{})
	if err != nil || len(files.Files) != 1 {
		t.Errorf("after two keyed uploads: %+v, %v; want 1 file", files, err)
	}
}
