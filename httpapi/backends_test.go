package httpapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	_ "gocloud.dev/blob/s3blob" // only this test links the S3 driver; httpapi itself links none

	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/storage/blobstore"
)

// fakeS3 serves an in-memory S3 on 127.0.0.1 until the test ends and
// returns the s3:// URL of a fresh bucket in it, for the real gocloud S3
// driver (path-style, as S3-compatible servers want).
func fakeS3(t *testing.T) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("openrender-test"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test-key-id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return "s3://openrender-test?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
}

// The whole flow on every storage backend, with private URLs refused as in
// production: upload a file, run a command on its storage_url (read from
// the bucket, not fetched), download the output with a plain GET, feed the
// output to a second command, then delete everything and check the bucket.
func TestFlowOnEveryBackend(t *testing.T) {
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
	data, _ := os.ReadFile(clip)
	for _, tc := range []struct {
		name       string
		storageURL func(t *testing.T) string
		linkHas    string // what storage_url looks like
	}{
		{"file", func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "bucket") }, "/storage/files/"},
		{"mem", func(t *testing.T) string { return "mem://" }, "/storage/files/"},
		{"s3", fakeS3, "X-Amz-Signature="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, testutil.EnvOptions{StorageURL: tc.storageURL(t), DenyPrivateURLs: true})
			code, r := s.uploadBytes(t, s.Key, "in.mp4", data)
			if code != 200 {
				t.Fatalf("upload: %d %v", code, r)
			}
			fileID := r["file_id"].(string)
			f := s.pollFile(t, s.Key, fileID)
			link, _ := f["storage_url"].(string)
			if f["status"] != "STORED" || !strings.Contains(link, tc.linkHas) {
				t.Fatalf("uploaded file: %v; want STORED with a storage_url containing %q", f, tc.linkHas)
			}
			if resp, got := getURL(t, link); resp.StatusCode != 200 || string(got) != string(data) {
				t.Errorf("GET storage_url: %d, %d bytes; want 200 with the %d uploaded", resp.StatusCode, len(got), len(data))
			}

			run := func(key, input, cmd string) map[string]any {
				t.Helper()
				var r map[string]any
				if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", key, map[string]any{
					"input_files":    map[string]any{"in_1": input},
					"output_files":   map[string]any{"out_1": "out.mp3"},
					"ffmpeg_command": cmd,
				}, &r); code != 200 {
					t.Fatalf("submit: %d %v", code, r)
				}
				return r
			}
			first := s.poll(t, run(s.Key, link, "-i {{in_1}} -vn -c:a libmp3lame -b:a 64k {{out_1}}")["command_id"].(string), 60*time.Second)
			if first["status"] != "SUCCESS" {
				t.Fatalf("command on the uploaded file: %v %v", first["error_status"], first["error_message"])
			}
			out := first["output_files"].(map[string]any)["out_1"].(map[string]any)
			outLink := out["storage_url"].(string)
			resp, mp3 := getURL(t, outLink)
			if resp.StatusCode != 200 || !strings.Contains(outLink, tc.linkHas) {
				t.Fatalf("GET output storage_url %s: %d", outLink, resp.StatusCode)
			}
			local := filepath.Join(t.TempDir(), "out.mp3")
			os.WriteFile(local, mp3, 0o600)
			if info, err := (&media.Prober{}).Probe(context.Background(), local); err != nil || info.FileType != "audio" || info.Codec != "mp3" {
				t.Errorf("downloaded output probes as %+v, %v; want mp3 audio", info, err)
			}

			// An output's storage_url is an input too.
			second := s.poll(t, run(s.Key, outLink, "-i {{in_1}} -t 1 -c:a libmp3lame {{out_1}}")["command_id"].(string), 60*time.Second)
			if second["status"] != "SUCCESS" {
				t.Errorf("command on an output's storage_url: %v %v", second["error_status"], second["error_message"])
			}
			// Not another account's.
			other := s.otherKey(t)
			var theirs map[string]any
			id := run(other, link, "-i {{in_1}} -vn {{out_1}}")["command_id"].(string)
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				s.call(t, "GET", "/api/v1/commands/"+id, other, nil, &theirs)
				if theirs["status"] == "FAILED" || theirs["status"] == "SUCCESS" {
					break
				}
			}
			// Recognised as the engine's own link and refused by account,
			// not merely blocked as a loopback download.
			if msg, _ := theirs["error_message"].(string); theirs["error_status"] != "UNREACHABLE_INPUT_FILE" ||
				!strings.Contains(msg, "no stored file of your account") {
				t.Errorf("another account's storage_url: %v %v %v", theirs["status"], theirs["error_status"], theirs["error_message"])
			}

			// Deleting removes the bytes from the bucket.
			var del map[string]any
			if code := s.call(t, "DELETE", "/api/v1/commands/"+first["command_id"].(string)+"/files", s.Key, nil, &del); code != 200 || del["files_deleted"] != 1.0 {
				t.Errorf("DELETE command files: %d %v", code, del)
			}
			if code := s.call(t, "DELETE", "/api/v1/files/"+fileID, s.Key, nil, &del); code != 200 {
				t.Errorf("DELETE file: %d %v", code, del)
			}
			for _, key := range []string{"files/" + fileID + "/in.mp4", blobKeyOf(t, outLink)} {
				if _, err := s.Bucket.Open(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("%s still in the bucket after delete: %v", key, err)
				}
			}
		})
	}
}

// blobKeyOf finds the key in a storage_url of either kind.
func blobKeyOf(t *testing.T, link string) string {
	t.Helper()
	i := strings.Index(link, "files/")
	j := strings.Index(link, "?")
	if i < 0 || j < i {
		t.Fatalf("no key in %s", link)
	}
	return link[i:j]
}

// S3 refuses presigned URLs that live longer than 7 days, so a longer
// configured lifetime is shortened to that rather than making every link
// unusable.
func TestPresignedLinksLiveAtMostSevenDays(t *testing.T) {
	ctx := context.Background()
	b, err := blobstore.Open(ctx, fakeS3(t), blobstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for ttl, want := range map[time.Duration]string{
		time.Hour:           "3600",
		30 * 24 * time.Hour: "604800",
	} {
		link, err := b.URL(ctx, "files/x/1/a.mp4", ttl)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(link)
		if got := u.Query().Get("X-Amz-Expires"); got != want {
			t.Errorf("ttl %v: X-Amz-Expires = %q, want %s (%s)", ttl, got, want, link)
		}
	}
}
