package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	_ "github.com/openrender/openrender/store/sqlite"
)

// Submitting a command, waiting for it, and downloading its output.
func ExampleClient_WaitForCommand() {
	baseURL, apiKey, stop := exampleServer() // an OpenRender server; yours has a URL and a key
	defer stop()
	ctx := context.Background()

	c := client.New(baseURL, apiKey)
	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_image": "frame.png"},
		FFmpegCommand: "ffmpeg -f lavfi -i color=c=red:size=64x48:duration=1 -frames:v 1 {{out_image}}",
	})
	if err != nil {
		panic(err)
	}
	// Polls once a second at first, less often later, until the end.
	cmd, err := c.WaitForCommand(ctx, id)
	if err != nil {
		panic(err)
	}
	if err := cmd.Err(); err != nil {
		panic(err) // the command FAILED: err is a *client.CommandError
	}
	out := cmd.OutputFiles["out_image"]
	fmt.Println(cmd.Status, out.FileName, out.FileType, *out.Width, *out.Height)

	var png strings.Builder
	if _, err := c.Download(ctx, *out.StorageURL, &png); err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(png.String(), "\x89PNG"))
	// Output:
	// SUCCESS frame.png image 64 48
	// true
}

// A request the server refuses is a *client.Error carrying the contract's
// error code, message and the fields at fault.
func ExampleError() {
	baseURL, apiKey, stop := exampleServer()
	defer stop()
	c := client.New(baseURL, apiKey)

	_, err := c.RunFFmpegCommand(context.Background(), client.RunRequest{
		OutputFiles:   map[string]string{"out_video": "a.mp4"},
		FFmpegCommand: "-i {{in_video}} {{out_video}}", // in_video is not declared
	})
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code == api.CodeValidationError)
		for _, d := range apiErr.Detail {
			fmt.Println(d.Loc)
		}
	}
	// Output:
	// 422 true
	// [body ffmpeg_command]
}

// exampleServer runs an OpenRender server on 127.0.0.1 for the examples:
// an engine on SQLite and an in-memory bucket behind httpapi.
func exampleServer() (baseURL, apiKey string, stop func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "openrender-client-example-")
	if err != nil {
		panic(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	baseURL = "http://" + srv.Listener.Addr().String()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "openrender.db"))
	if err != nil {
		panic(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	signer, _ := storage.NewLinkSigner(secret)
	bucket, err := blobstore.Open(ctx, "mem://", blobstore.Options{PublicURL: baseURL, Signer: signer})
	if err != nil {
		panic(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Storage: bucket, WorkDir: filepath.Join(dir, "work"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	if err := eng.Start(ctx); err != nil {
		panic(err)
	}
	apiKey = engine.NewAPIKey()
	if _, err := engine.AddAPIKey(ctx, st, engine.DefaultAccount, apiKey, time.Now()); err != nil {
		panic(err)
	}
	srv.Config.Handler = httpapi.New(eng, httpapi.Config{})
	srv.Start()
	return baseURL, apiKey, func() {
		srv.Close()
		eng.Stop(ctx)
		bucket.Close()
		st.Close()
		os.RemoveAll(dir)
	}
}
