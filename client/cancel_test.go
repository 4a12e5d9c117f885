package client_test

import (
	"testing"

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
		FFmpegCommand: "-re -f lavfi -i sine=duration=60 {{out_a}}",
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
			if err := c.CancelCommand(ctx, id); err != nil {
				t.Errorf("CancelCommand: %v", err)
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
}
