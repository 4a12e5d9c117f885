package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
)

// An embedding application hears about finished commands in-process with a
// Notifier, beside (or instead of) webhooks. It gets the same object a
// webhook carries.
func ExampleConfig_notifiers() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "openrender-example-")
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "openrender.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	secret := make([]byte, 32)
	rand.Read(secret)
	signer, _ := storage.NewLinkSigner(secret)
	bucket, err := blobstore.Open(ctx, "mem://", blobstore.Options{PublicURL: "https://render.example.com", Signer: signer})
	if err != nil {
		panic(err)
	}
	defer bucket.Close()

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
