package client_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
)

// Upload, store by URL, get, list, download and delete, and a stored
// file's storage_url used as a command input.
func TestFiles(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 1, Size: "160x120"})
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	files := testutil.ServeDir(t, mediaDir)
	ctx := ctxFor(t)
	c := s.client()

	f, err := os.Open(clip)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	upID, err := c.UploadFile(ctx, `my "clip".mp4`, f)
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.GetFile(ctx, upID)
	if err != nil || up.Status != client.FileStored || up.StorageURL == nil || up.OriginalFileURL != nil {
		t.Fatalf("uploaded file: %+v, %v", up, err)
	}
	var got bytes.Buffer
	if _, err := c.Download(ctx, *up.StorageURL, &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("download of the upload: %d bytes, %v; want the %d uploaded", got.Len(), err, len(data))
	}

	storedID, err := c.StoreFile(ctx, files.URL+"/in.mp4")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := c.WaitForFile(ctx, storedID)
	if err != nil || stored.Status != client.FileStored || stored.OriginalFileURL == nil || *stored.OriginalFileURL != files.URL+"/in.mp4" {
		t.Fatalf("stored file: %+v, %v", stored, err)
	}
	if stored.Width == nil || *stored.Width != 160 {
		t.Errorf("stored file's probe facts: %+v", stored.Info)
	}

	page, err := c.ListFiles(ctx, client.ListOptions{Limit: 1})
	if err != nil || len(page.Files) != 1 || page.Files[0].FileID != storedID {
		t.Fatalf("ListFiles(limit 1): %+v, %v; want the newest, %s", page, err, storedID)
	}
	page, err = c.ListFiles(ctx, client.ListOptions{Limit: 1, Offset: 1})
	if err != nil || len(page.Files) != 1 || page.Files[0].FileID != upID || page.Offset != 1 {
		t.Fatalf("ListFiles(offset 1): %+v, %v; want %s", page, err, upID)
	}

	// The upload's storage_url as a command input.
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		InputFiles:    map[string]string{"in_v": *up.StorageURL},
		OutputFiles:   map[string]string{"out_frame": "frame.png"},
		FFmpegCommand: "-i {{in_v}} -frames:v 1 {{out_frame}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cmd, err := c.WaitForCommand(ctx, id); err != nil || cmd.Err() != nil {
		t.Fatalf("command on a stored file: %v, %v", err, cmd.Err())
	}

	if err := c.DeleteFile(ctx, upID); err != nil {
		t.Fatal(err)
	}
	if up, err := c.GetFile(ctx, upID); err != nil || !up.IsDeleted || up.StorageURL != nil {
		t.Errorf("deleted file: %+v, %v", up, err)
	}
	var e *client.Error
	if err := c.DeleteFile(ctx, upID); !errors.As(err, &e) || e.Code != api.CodeNotFound {
		t.Errorf("deleting twice: %v; want NOT_FOUND", err)
	}
}

// An upload past the server's cap is a 413 PAYLOAD_TOO_LARGE.
func TestUploadTooLarge(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{Config: engineConfigMaxUpload(1000)})
	_, err := s.client().UploadFile(ctxFor(t), "big.bin", bytes.NewReader(make([]byte, 5<<20)))
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 413 || e.Code != api.CodePayloadTooLarge {
		t.Fatalf("oversized upload: %v", err)
	}
}

func engineConfigMaxUpload(n int64) engine.Config { return engine.Config{MaxUploadBytes: n} }
