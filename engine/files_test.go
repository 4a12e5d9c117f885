package engine_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// gatedServer serves the test clip only once release is closed.
func gatedServer(t *testing.T) (url string, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	path := clip(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
			http.ServeFile(w, r, path)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return srv.URL + "/in.mp4", release
}

func stopEngine(t *testing.T, e *engine.Engine, grace time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// A file deleted while it is being fetched keeps no bytes: the fetch finds
// its record deleted and removes what it stored.
func TestFileDeletedWhileFetching(t *testing.T) {
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	u, release := gatedServer(t)
	f, err := env.Engine.StoreFile(context.Background(), env.Account.ID, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Engine.DeleteFile(context.Background(), env.Account.ID, f.ID); err != nil {
		t.Fatalf("DeleteFile while fetching: %v", err)
	}
	close(release)
	stopEngine(t, env.Engine, time.Minute) // waits for the fetch to end
	checkGone(t, env, f)
	if got, _ := env.Store.GetFile(context.Background(), f.ID); got.Status != store.FileProcessing {
		t.Errorf("a deleted file's fetch recorded %s", got.Status)
	}
}

// On shutdown, fetches still running past the grace period end FAILED with
// CANCELLED rather than stay PROCESSING.
func TestShutdownCancelsFetches(t *testing.T) {
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true})
	u, _ := gatedServer(t)
	f, err := env.Engine.StoreFile(context.Background(), env.Account.ID, u)
	if err != nil {
		t.Fatal(err)
	}
	stopEngine(t, env.Engine, 100*time.Millisecond)
	got, _ := env.Store.GetFile(context.Background(), f.ID)
	if got.Status != store.FileFailed || got.ErrorStatus != engine.ErrorCancelled {
		t.Errorf("fetch cut by shutdown: %s %s, want FAILED CANCELLED", got.Status, got.ErrorStatus)
	}
	if _, err := env.Engine.StoreFile(context.Background(), env.Account.ID, u); !errors.Is(err, engine.ErrStopped) {
		t.Errorf("StoreFile after Stop: %v, want ErrStopped", err)
	}
}

// store-file of one of the account's own storage_urls copies the file
// from the bucket, with private URLs refused.
func TestStoreFileFromOwnLink(t *testing.T) {
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, DenyPrivateURLs: true, PublicURL: "http://127.0.0.1:9"})
	orig := uploadClip(t, env, env.Engine)
	link, err := env.Bucket.URL(context.Background(), orig.BlobKey, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f, err := env.Engine.StoreFile(context.Background(), env.Account.ID, link)
	if err != nil {
		t.Fatalf("StoreFile(own link): %v", err)
	}
	stopEngine(t, env.Engine, time.Minute)
	got, _ := env.Store.GetFile(context.Background(), f.ID)
	if got.Status != store.FileStored || got.SizeBytes != orig.SizeBytes || got.Info.FileType != "video" {
		t.Errorf("copy of an own file: %+v", got)
	}
	obj, err := env.Bucket.Open(context.Background(), got.BlobKey)
	if err != nil {
		t.Fatalf("the copy's bytes: %v", err)
	}
	obj.Close()
	if _, err := env.Engine.StoreFile(context.Background(), env.Account.ID, "http://127.0.0.1:9/elsewhere.mp4"); err == nil {
		t.Error("a loopback URL that is not an own link was accepted")
	}
}
