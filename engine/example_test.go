package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	_ "github.com/openrender/openrender/store/sqlite"
)

// Running a command without HTTP: Submit records it, Wait wakes up when a
// worker of this engine finishes it.
func ExampleEngine_Submit() {
	ctx := context.Background()
	st, bucket, dir, cleanup := exampleDeps(ctx)
	defer cleanup()

	eng, err := engine.New(engine.Config{Store: st, Storage: bucket, WorkDir: filepath.Join(dir, "work"), Workers: 1})
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
		FFmpegCommand: "ffmpeg -f lavfi -i sine=frequency=440:duration=1 -ar 8000 {{out_audio}}",
	})
	if err != nil {
		panic(err)
	}
	done, err := eng.Wait(ctx, acct.ID, cmd.ID)
	if err != nil {
		panic(err)
	}
	out := done.Files["out_audio"]
	fmt.Println(done.Status, out.FileName, out.Info.FileType, *out.Info.SampleRate, *out.Info.Duration)
	// Output: SUCCESS tone.wav audio 8000 1
}

// exampleDeps opens what an engine needs, as an embedding app would: a
// SQLite state store and a bucket (mem:// here; file:// or s3:// in an app)
// whose local links are signed with a random secret, in a fresh dir.
func exampleDeps(ctx context.Context) (st store.Store, bucket *blobstore.Bucket, dir string, cleanup func()) {
	dir, err := os.MkdirTemp("", "openrender-example-")
	if err != nil {
		panic(err)
	}
	st, err = store.Open(ctx, "sqlite://"+filepath.Join(dir, "openrender.db"))
	if err != nil {
		panic(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	signer, _ := storage.NewLinkSigner(secret)
	bucket, err = blobstore.Open(ctx, "mem://", blobstore.Options{PublicURL: "https://render.example.com", Signer: signer})
	if err != nil {
		panic(err)
	}
	return st, bucket, dir, func() {
		bucket.Close()
		st.Close()
		os.RemoveAll(dir)
	}
}
