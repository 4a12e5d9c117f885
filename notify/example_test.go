package notify_test

import (
	"context"
	"fmt"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/notify"
)

// A Notifier is any type with a Notify method; NotifierFunc makes one from
// a function. Put it in engine.Config.Notifiers and the engine calls it
// once per finished command (see the engine package's
// ExampleConfig_notifiers for it running in an engine).
func ExampleNotifierFunc() {
	var n notify.Notifier = notify.NotifierFunc(func(ctx context.Context, e notify.Event) error {
		fmt.Println(e.Command.CommandID, e.Command.Status, e.Command.ErrorStatus)
		return nil
	})
	// What the engine does when a command ends:
	n.Notify(context.Background(), notify.Event{Command: api.Command{
		CommandID: "c1", Status: "FAILED", ErrorStatus: "FFMPEG_FAILED",
	}})
	// Output: c1 FAILED FFMPEG_FAILED
}
