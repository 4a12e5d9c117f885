package client_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// A running command cancelled through the client ends FAILED with
// CANCELLED, and while it ran WaitForCommand saw its progress.
func TestCancelAndProgress(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()
	// -re reads the source in real time: 60 s of tone takes 60 s.
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-re -f lavfi -i sine=duration=60 -t 60 {{out_a}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	var sawProgress bool
	cmd, err := c.WaitForCommand(ctx, id, client.OnUpdate(func(cmd *client.Command) {
		if cmd.Status != client.StatusProcessing || cmd.Progress == nil {
			return
		}
		if *cmd.Progress < 0 || *cmd.Progress > 100 {
			t.Errorf("progress %v is outside 0–100", *cmd.Progress)
		}
		if !sawProgress {
			sawProgress = true
			got, err := c.CancelCommand(ctx, id)
			if err != nil {
				t.Errorf("CancelCommand: %v", err)
				return
			}
			// 200: stopped here at once; 202 (another process) would
			// still say PROCESSING. One engine here: stopped.
			if got.CommandID != id || got.Status != client.StatusFailed || got.ErrorStatus != "CANCELLED" {
				t.Errorf("CancelCommand answered %s %s/%s; want FAILED/CANCELLED", got.CommandID, got.Status, got.ErrorStatus)
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !sawProgress {
		t.Error("WaitForCommand never saw progress while PROCESSING")
	}
	if cmd.Status != client.StatusFailed || cmd.ErrorStatus != "CANCELLED" {
		t.Fatalf("cancelled command ended %s/%s", cmd.Status, cmd.ErrorStatus)
	}

	// Cancelling it again: it has finished, 409 CONFLICT.
	_, err = c.CancelCommand(ctx, id)
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusConflict || e.Code != api.CodeConflict {
		t.Errorf("cancel of a finished command: %v; want 409 CONFLICT", err)
	}
	// An unknown id: 404.
	if _, err := c.CancelCommand(ctx, "00000000-0000-0000-0000-000000000000"); !errors.As(err, &e) || e.StatusCode != http.StatusNotFound {
		t.Errorf("cancel of an unknown command: %v; want 404", err)
	}
}

// A QUEUED command (the engine is not started) is cancelled at once: 200
// with the command FAILED/CANCELLED.
func TestCancelQueued(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true})
	ctx := ctxFor(t)
	c := s.client()
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=1 {{out_a}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.CancelCommand(ctx, id)
	if err != nil || got.Status != client.StatusFailed || got.ErrorStatus != "CANCELLED" {
		t.Fatalf("CancelCommand of a queued command: %+v, %v", got, err)
	}
	var ce *client.CommandError
	if !errors.As(got.Err(), &ce) || ce.ErrorStatus != "CANCELLED" {
		t.Errorf("Err() = %v", got.Err())
	}
}
