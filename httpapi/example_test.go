package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/httpapi"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
	"github.com/openrender/openrender/store"
	_ "github.com/openrender/openrender/store/sqlite"
)

// Mounting OpenRender under a prefix of an existing app's mux, next to the
// app's own routes, and running a command through it.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "openrender-example-")
	defer os.RemoveAll(dir)

	// The app's server; its address is the base of storage links.
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String() + "/render"

	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "openrender.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	secret := make([]byte, 32)
	rand.Read(secret)
	signer, _ := storage.NewLinkSigner(secret)
	bucket, err := blobstore.Open(ctx, "file://"+filepath.Join(dir, "files"), blobstore.Options{PublicURL: publicURL, Signer: signer})
	if err != nil {
		panic(err)
	}
	defer bucket.Close()
	eng, err := engine.New(engine.Config{Store: st, Storage: bucket, WorkDir: filepath.Join(dir, "work")})
	if err != nil {
		panic(err)
	}
	if err := eng.Start(ctx); err != nil {
		panic(err)
	}
	defer eng.Stop(ctx)
	key := engine.NewAPIKey()
	engine.AddAPIKey(ctx, st, engine.DefaultAccount, key, time.Now())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the app's own route") })
	mux.Handle("/render/", http.StripPrefix("/render", httpapi.New(eng, httpapi.Config{})))
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	// A client submits a command (a generated source needs no input file)...
	body := `{"output_files": {"out_image": "frame.png"},
	          "ffmpeg_command": "ffmpeg -f lavfi -i color=c=red:size=64x48:duration=1 -frames:v 1 {{out_image}}"}`
	req, _ := http.NewRequest("POST", publicURL+"/api/v1/run-ffmpeg-command", strings.NewReader(body))
	req.Header.Set("X-API-KEY", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var created struct {
		CommandID string `json:"command_id"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()

	// ...and polls until it is done.
	var cmd struct {
		Status      string `json:"status"`
		OutputFiles map[string]struct {
			StorageURL string `json:"storage_url"`
			Width      int    `json:"width"`
			FileType   string `json:"file_type"`
		} `json:"output_files"`
	}
	for cmd.Status != "SUCCESS" && cmd.Status != "FAILED" {
		time.Sleep(100 * time.Millisecond)
		req, _ := http.NewRequest("GET", publicURL+"/api/v1/commands/"+created.CommandID, nil)
		req.Header.Set("X-API-KEY", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		json.NewDecoder(resp.Body).Decode(&cmd)
		resp.Body.Close()
	}
	out := cmd.OutputFiles["out_image"]
	fmt.Println(cmd.Status, out.FileType, out.Width)
	fmt.Println(strings.HasPrefix(out.StorageURL, publicURL+"/storage/"))

	// The storage link needs no key.
	resp, err = http.Get(out.StorageURL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output:
	// SUCCESS image 64
	// true
	// 200 image/png
}
