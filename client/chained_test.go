package client_test

import (
	"testing"

	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
)

// A chain whose second step reads the first step's output.
func TestRunChained(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()
	id, err := c.RunChainedFFmpegCommands(ctx, client.ChainedRequest{
		OutputFiles: map[string]string{"out_wav": "a.wav", "out_mp3": "a.mp3"},
		FFmpegCommands: []string{
			"-f lavfi -i sine=duration=0.5 {{out_wav}}",
			"-i {{out_wav}} {{out_mp3}}",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil || cmd.Err() != nil {
		t.Fatalf("chained command: %v, %v", err, cmd.Err())
	}
	if cmd.CommandType != client.TypeChainedCommand || cmd.OutputFiles["out_mp3"].Status != client.FileStored {
		t.Errorf("chained command object: %+v", cmd.Command)
	}
}

// Independent commands come back as ids in request order.
func TestRunMultiple(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()
	ids, err := c.RunMultipleFFmpegCommands(ctx, client.MultipleRequest{Commands: []client.MultipleCommand{
		{OutputFiles: map[string]string{"out_a": "a.wav"}, FFmpegCommand: "-f lavfi -i sine=duration=0.2 {{out_a}}", Metadata: map[string]any{"i": 0}},
		{OutputFiles: map[string]string{"out_b": "b.wav"}, FFmpegCommand: "-f lavfi -i sine=duration=0.2 {{out_b}}", Metadata: map[string]any{"i": 1}},
	}})
	if err != nil || len(ids) != 2 {
		t.Fatalf("RunMultipleFFmpegCommands: %v, %v", ids, err)
	}
	for i, id := range ids {
		cmd, err := c.WaitForCommand(ctx, id)
		if err != nil || cmd.Err() != nil {
			t.Fatalf("command %d: %v, %v", i, err, cmd.Err())
		}
		if cmd.Metadata["i"] != float64(i) {
			t.Errorf("command %d has metadata %v: ids are not in request order", i, cmd.Metadata)
		}
	}
}
