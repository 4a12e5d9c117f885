package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/notify"
)

// An embedding application hears about finished commands in-process with a
// Notifier, beside (or instead of) webhooks. It gets the same object a
// webhook carries.
func ExampleConfig_notifiers() {
	ctx := context.Background()
	st, bucket, dir, cleanup := exampleDeps(ctx) // see ExampleEngine_Submit
	defer cleanup()

	finished := make(chan notify.Event, 1)
	eng, err := engine.New(engine.Config{
		Store: st, Storage: bucket, WorkDir: filepath.Join(dir, "work"), Workers: 1,
		Notifiers: []notify.Notifier{notify.NotifierFunc(func(ctx context.Context, e notify.Event) error {
			finished <- e // a real one might publish to a message bus
			return nil
		})},
	})
	if err != nil {
		panic(err)
	}
	if err := eng.Start(ctx); err != nil {
		panic(err)
	}
	defer eng.Stop(ctx)

	acct, _ := st.EnsureAccount(ctx, "example", time.Now())
	cmd, err := eng.Submit(ctx, acct.ID, engine.SubmitRequest{
		OutputFiles:   map[string]string{"out_audio": "tone.wav"},
		FFmpegCommand: "-f lavfi -i sine=frequency=440:duration=1 -ar 8000 {{out_audio}}",
	})
	if err != nil {
		panic(err)
	}
	e := <-finished
	fmt.Println(e.Command.CommandID == cmd.ID, e.Command.Status, e.Command.OutputFiles["out_audio"].FileName)
	// Output: true SUCCESS tone.wav
}
