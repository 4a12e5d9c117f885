package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/storage"
)

// multipartBody builds an upload form with data in the given field.
func multipartBody(t *testing.T, field, filename string, data []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("note", "fields other than file are skipped")
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// upload posts a multipart form and returns the status and decoded answer.
func (s *server) upload(t *testing.T, key string, body io.Reader, contentType string, length int64) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+"/api/v1/files/upload", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("X-API-KEY", key)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST upload: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("upload answered %d %q: %v", resp.StatusCode, data, err)
	}
	return resp.StatusCode, out
}

func (s *server) uploadBytes(t *testing.T, key, filename string, data []byte) (int, map[string]any) {
	t.Helper()
	body, ct := multipartBody(t, "file", filename, data)
	return s.upload(t, key, bytes.NewReader(body), ct, int64(len(body)))
}

// pollFile waits until a file is STORED or FAILED.
func (s *server) pollFile(t *testing.T, key, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var obj map[string]any
	for time.Now().Before(deadline) {
		obj = nil
		if code := s.call(t, "GET", "/api/v1/files/"+id, key, nil, &obj); code != 200 {
			t.Fatalf("GET file %s: %d %v", id, code, obj)
		}
		if st := obj["status"]; st == "STORED" || st == "FAILED" {
			return obj
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("file %s not finished: %v", id, obj)
	return nil
}

func (s *server) storeFile(t *testing.T, fileURL string) map[string]any {
	t.Helper()
	var r map[string]any
	if code := s.call(t, "POST", "/api/v1/files/store-file", s.Key, map[string]any{"file_url": fileURL}, &r); code != 200 {
		t.Fatalf("store-file %s: %d %v", fileURL, code, r)
	}
	return s.pollFile(t, s.Key, r["file_id"].(string))
}

// checkFieldError checks a 422 answer names the field at loc.
func checkFieldError(t *testing.T, what string, code int, body map[string]any, loc ...any) {
	t.Helper()
	if code != 422 || body["error"] != "VALIDATION_ERROR" {
		t.Errorf("%s: %d %v, want 422 VALIDATION_ERROR", what, code, body)
		return
	}
	detail, _ := body["detail"].([]any)
	want, _ := json.Marshal(loc)
	for _, d := range detail {
		got, _ := json.Marshal(d.(map[string]any)["loc"])
		if string(got) == string(want) {
			return
		}
	}
	t.Errorf("%s: detail %v names no field at %s", what, detail, want)
}

func getURL(t *testing.T, link string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", link, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Every field of the contract's file object, probe facts included.
func TestStoreFileHasEveryField(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	f := s.storeFile(t, in)
	for _, k := range []string{"file_id", "storage_url", "status", "is_deleted", "original_file_url", "filename",
		"size_mbytes", "duration", "file_type", "file_format", "mime_type", "codec", "pixel_format", "width", "height",
		"frame_rate", "bitrate_video_kb", "bitrate_audio_kb", "sample_rate", "channels", "error_status", "error_message", "created_at"} {
		if _, ok := f[k]; !ok {
			t.Errorf("file object has no %q: %v", k, f)
		}
	}
	want := map[string]any{"status": "STORED", "is_deleted": false, "original_file_url": in, "filename": "in.mp4",
		"file_type": "video", "mime_type": "video/mp4", "codec": "h264", "width": 640.0, "height": 360.0,
		"error_status": nil, "error_message": nil}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %v, want %v", k, f[k], v)
		}
	}
	if d, _ := f["duration"].(float64); d < 4.9 || d > 5.1 {
		t.Errorf("duration = %v, want about 5", f["duration"])
	}
	// The bytes behind storage_url are the source's, with its type.
	src, _ := os.ReadFile(filepath.Join(mediaDir, "in.mp4"))
	resp, got := getURL(t, f["storage_url"].(string))
	if resp.StatusCode != 200 || !bytes.Equal(got, src) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Errorf("GET storage_url: %d %q, %d bytes; want 200 video/mp4 with the source's %d bytes",
			resp.StatusCode, resp.Header.Get("Content-Type"), len(got), len(src))
	}
	if sz := f["size_mbytes"].(float64); sz <= 0 {
		t.Errorf("size_mbytes = %v", sz)
	}
}

func TestStoreFileBadInput(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	var body map[string]any
	code := s.call(t, "POST", "/api/v1/files/store-file", s.Key, map[string]any{}, &body)
	checkFieldError(t, "no file_url", code, body, "body", "file_url")
	code = s.call(t, "POST", "/api/v1/files/store-file", s.Key, map[string]any{"file_url": 42}, &body)
	checkFieldError(t, "file_url a number", code, body, "body", "file_url")
	code = s.call(t, "POST", "/api/v1/files/store-file", s.Key, map[string]any{"file_url": "ftp://example.com/a.mp4"}, &body)
	checkFieldError(t, "file_url not http", code, body, "body", "file_url")
	if code := s.call(t, "POST", "/api/v1/files/store-file", s.Key, "{", &body); code != 400 || body["error"] != "INVALID_REQUEST" {
		t.Errorf("unparseable body: %d %v, want 400 INVALID_REQUEST", code, body)
	}
	if code := s.call(t, "POST", "/api/v1/files/store-file", "", map[string]any{"file_url": "https://example.com/a.mp4"}, &body); code != 401 {
		t.Errorf("no key: %d, want 401", code)
	}
	var list map[string]any
	s.call(t, "GET", "/api/v1/files", s.Key, nil, &list)
	if n := len(list["files"].([]any)); n != 0 {
		t.Errorf("refused requests stored %d files", n)
	}
}

func TestStoreFileNotMedia(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.mp4"), []byte("just some text, not a video\n"), 0o600)
	srv := testutil.ServeDir(t, dir)
	s := newServer(t, testutil.EnvOptions{})
	f := s.storeFile(t, srv.URL+"/notes.mp4")
	if f["status"] != "FAILED" || f["error_status"] != "INVALID_INPUT_FILE" || f["storage_url"] != nil {
		t.Errorf("a text file: %v, want FAILED INVALID_INPUT_FILE with no storage_url", f)
	}
	if _, err := s.Bucket.Open(context.Background(), "files/"+f["file_id"].(string)+"/notes.mp4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a non-media file's bytes stayed in the bucket: %v", err)
	}
}

func TestStoreFileUnreachable(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.ServeDir(t, dir)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/a.mp4"
	ln.Close()
	s := newServer(t, testutil.EnvOptions{})
	for _, u := range []string{srv.URL + "/missing.mp4", closed} {
		f := s.storeFile(t, u)
		if f["status"] != "FAILED" || f["error_status"] != "UNREACHABLE_INPUT_FILE" {
			t.Errorf("%s: %v, want FAILED UNREACHABLE_INPUT_FILE", u, f)
		}
		if msg, _ := f["error_message"].(string); !strings.Contains(msg, "file_url") {
			t.Errorf("error_message %q does not name file_url", msg)
		}
	}
}

// An upload streams in, is probed, and its storage_url serves the bytes,
// with Range requests.
func TestUploadAndRange(t *testing.T) {
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
	data, _ := os.ReadFile(clip)
	s := newServer(t, testutil.EnvOptions{})
	code, r := s.uploadBytes(t, s.Key, "My Clip (final).mp4", data)
	if code != 200 {
		t.Fatalf("upload: %d %v", code, r)
	}
	f := s.pollFile(t, s.Key, r["file_id"].(string))
	if f["status"] != "STORED" || f["width"] != 640.0 || f["filename"] != "My_Clip_final_.mp4" || f["original_file_url"] != nil {
		t.Errorf("uploaded file: %v", f)
	}
	link := f["storage_url"].(string)
	resp, got := getURL(t, link, "Range", "bytes=100-199")
	if resp.StatusCode != 206 || !bytes.Equal(got, data[100:200]) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Errorf("Range 100-199: %d %q %d bytes, want 206 video/mp4 with bytes 100..199", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	resp, got = getURL(t, link, "Range", fmt.Sprintf("bytes=-%d", 10))
	if resp.StatusCode != 206 || !bytes.Equal(got, data[len(data)-10:]) {
		t.Errorf("suffix Range: %d, %d bytes", resp.StatusCode, len(got))
	}
	resp, _ = getURL(t, link, "Range", fmt.Sprintf("bytes=%d-", len(data)+10))
	if resp.StatusCode != 416 {
		t.Errorf("Range past the end: %d, want 416", resp.StatusCode)
	}
}

func TestUploadBadInput(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	code, body := s.upload(t, s.Key, strings.NewReader(`{"file":"x"}`), "application/json", -1)
	checkFieldError(t, "a JSON body", code, body, "body", "file")
	form, ct := multipartBody(t, "document", "a.mp4", []byte("x"))
	code, body = s.upload(t, s.Key, bytes.NewReader(form), ct, int64(len(form)))
	checkFieldError(t, "no file field", code, body, "body", "file")

	code, r := s.uploadBytes(t, s.Key, "text.mp3", []byte("not audio at all"))
	if code != 200 {
		t.Fatalf("upload of a text file: %d %v", code, r)
	}
	f := s.pollFile(t, s.Key, r["file_id"].(string))
	if f["status"] != "FAILED" || f["error_status"] != "INVALID_INPUT_FILE" || f["storage_url"] != nil {
		t.Errorf("non-media upload: %v, want FAILED INVALID_INPUT_FILE", f)
	}
}

// Past MaxUploadBytes: 413, whether the length is announced or not, and
// nothing is stored.
func TestUploadTooLarge(t *testing.T) {
	const limit = 64 << 10
	s := newServer(t, testutil.EnvOptions{Config: engine.Config{MaxUploadBytes: limit}})
	big := bytes.Repeat([]byte("x"), 4*limit)

	code, body := s.uploadBytes(t, s.Key, "big.bin", big) // Content-Length above the cap
	if code != 413 || body["error"] != "PAYLOAD_TOO_LARGE" {
		t.Errorf("announced oversize upload: %d %v, want 413 PAYLOAD_TOO_LARGE", code, body)
	}
	// Chunked: the cap trips while the bytes stream in.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "big.bin")
		fw.Write(big)
		mw.Close()
		pw.Close()
	}()
	code, body = s.upload(t, s.Key, pr, mw.FormDataContentType(), -1)
	if code != 413 || body["error"] != "PAYLOAD_TOO_LARGE" {
		t.Errorf("streamed oversize upload: %d %v, want 413 PAYLOAD_TOO_LARGE", code, body)
	}
	// Exactly the cap fits.
	code, body = s.uploadBytes(t, s.Key, "fits.bin", big[:limit])
	if code != 200 {
		t.Errorf("upload at the cap: %d %v, want 200", code, body)
	}
	var list map[string]any
	s.call(t, "GET", "/api/v1/files", s.Key, nil, &list)
	if n := len(list["files"].([]any)); n != 1 {
		t.Errorf("%d files recorded, want only the one at the cap", n)
	}
}

func TestDeleteFile(t *testing.T) {
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
	data, _ := os.ReadFile(clip)
	s := newServer(t, testutil.EnvOptions{})
	_, r := s.uploadBytes(t, s.Key, "in.mp4", data)
	id := r["file_id"].(string)
	f := s.pollFile(t, s.Key, id)
	link := f["storage_url"].(string)

	var del map[string]any
	if code := s.call(t, "DELETE", "/api/v1/files/"+id, s.Key, nil, &del); code != 200 || del["deleted"] != true || del["file_id"] != id {
		t.Fatalf("DELETE: %d %v", code, del)
	}
	var after map[string]any
	if code := s.call(t, "GET", "/api/v1/files/"+id, s.Key, nil, &after); code != 200 || after["is_deleted"] != true || after["storage_url"] != nil {
		t.Errorf("after delete: %d %v, want the record with is_deleted and no storage_url", code, after)
	}
	if after["width"] != 640.0 {
		t.Errorf("the kept record lost its facts: %v", after)
	}
	if _, err := s.Bucket.Open(context.Background(), "files/"+id+"/in.mp4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the bytes are still in the bucket: %v", err)
	}
	if resp, _ := getURL(t, link); resp.StatusCode != 404 {
		t.Errorf("old storage_url after delete: %d, want 404", resp.StatusCode)
	}
	if code := s.call(t, "DELETE", "/api/v1/files/"+id, s.Key, nil, &del); code != 404 || del["error"] != "NOT_FOUND" {
		t.Errorf("double delete: %d %v, want 404", code, del)
	}
	if code := s.call(t, "DELETE", "/api/v1/files/no-such-id", s.Key, nil, &del); code != 404 {
		t.Errorf("delete of an unknown id: %d, want 404", code)
	}
}

func TestDeleteCommandFiles(t *testing.T) {
	in := clipURL(t)
	s := newServer(t, testutil.EnvOptions{})
	var r map[string]any
	s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
		"input_files":    map[string]any{"in_video": in},
		"output_files":   map[string]any{"out_a": "a.mp3", "out_b": "b.jpg"},
		"ffmpeg_command": "-i {{in_video}} -vn -c:a libmp3lame {{out_a}} -frames:v 1 {{out_b}}",
	}, &r)
	id := r["command_id"].(string)
	obj := s.poll(t, id, 60*time.Second)
	if obj["status"] != "SUCCESS" {
		t.Fatalf("command: %v", obj)
	}
	links := map[string]string{}
	for alias, o := range obj["output_files"].(map[string]any) {
		links[alias] = o.(map[string]any)["storage_url"].(string)
	}
	other := s.otherKey(t)
	var del map[string]any
	if code := s.call(t, "DELETE", "/api/v1/commands/"+id+"/files", other, nil, &del); code != 404 {
		t.Errorf("another account deleting the files: %d, want 404", code)
	}
	if code := s.call(t, "DELETE", "/api/v1/commands/"+id+"/files", s.Key, nil, &del); code != 200 || del["deleted"] != true || del["files_deleted"] != 2.0 {
		t.Fatalf("DELETE command files: %d %v, want 2 deleted", code, del)
	}
	if code := s.call(t, "DELETE", "/api/v1/commands/"+id+"/files", s.Key, nil, &del); code != 200 || del["files_deleted"] != 0.0 {
		t.Errorf("second DELETE command files: %d %v, want 0 deleted", code, del)
	}
	if code := s.call(t, "DELETE", "/api/v1/commands/no-such-command/files", s.Key, nil, &del); code != 404 {
		t.Errorf("unknown command: %d, want 404", code)
	}
	obj = s.poll(t, id, time.Second)
	for alias, o := range obj["output_files"].(map[string]any) {
		of := o.(map[string]any)
		if of["is_deleted"] != true || of["storage_url"] != nil {
			t.Errorf("output %s after delete: %v", alias, of)
		}
		if resp, _ := getURL(t, links[alias]); resp.StatusCode != 404 {
			t.Errorf("output %s still served: %d", alias, resp.StatusCode)
		}
	}
}

// otherKey makes a key of a second account.
func (s *server) otherKey(t *testing.T) string {
	t.Helper()
	key := engine.NewAPIKey()
	if _, err := engine.AddAPIKey(context.Background(), s.Store, "other-account", key, time.Now()); err != nil {
		t.Fatal(err)
	}
	return key
}

// Files are visible only to their account, and one account can't use
// another's storage_url as an input: the command FAILs with
// UNREACHABLE_INPUT_FILE, as for a missing file.
func TestFilesAreAccountScoped(t *testing.T) {
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
	data, _ := os.ReadFile(clip)
	// Private URLs refused, as in production: an own link must be read
	// from the bucket, not fetched from 127.0.0.1.
	s := newServer(t, testutil.EnvOptions{DenyPrivateURLs: true})
	_, r := s.uploadBytes(t, s.Key, "in.mp4", data)
	id := r["file_id"].(string)
	f := s.pollFile(t, s.Key, id)
	link := f["storage_url"].(string)
	other := s.otherKey(t)

	var body map[string]any
	if code := s.call(t, "GET", "/api/v1/files/"+id, other, nil, &body); code != 404 {
		t.Errorf("another account's GET: %d, want 404", code)
	}
	if code := s.call(t, "DELETE", "/api/v1/files/"+id, other, nil, &body); code != 404 {
		t.Errorf("another account's DELETE: %d, want 404", code)
	}
	s.call(t, "GET", "/api/v1/files", other, nil, &body)
	if n := len(body["files"].([]any)); n != 0 {
		t.Errorf("another account lists %d files, want 0", n)
	}

	submit := func(key string) map[string]any {
		var r map[string]any
		code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", key, map[string]any{
			"input_files":    map[string]any{"in_video": link},
			"output_files":   map[string]any{"out_a": "a.mp3"},
			"ffmpeg_command": "-i {{in_video}} -vn -c:a libmp3lame {{out_a}}",
		}, &r)
		if code != 200 {
			t.Fatalf("submit with a storage_url input: %d %v", code, r)
		}
		return r
	}
	// Its own account: read straight from the bucket.
	own := s.poll(t, submit(s.Key)["command_id"].(string), 60*time.Second)
	if own["status"] != "SUCCESS" {
		t.Errorf("own storage_url as input: %v %v", own["error_status"], own["error_message"])
	}
	// Another account: refused, like a missing file.
	req := submit(other)
	var theirs map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s.call(t, "GET", "/api/v1/commands/"+req["command_id"].(string), other, nil, &theirs)
		if theirs["status"] == "FAILED" || theirs["status"] == "SUCCESS" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if theirs["status"] != "FAILED" || theirs["error_status"] != "UNREACHABLE_INPUT_FILE" ||
		!strings.Contains(theirs["error_message"].(string), "no stored file of your account") {
		t.Errorf("another account's storage_url as input: %v %v %v", theirs["status"], theirs["error_status"], theirs["error_message"])
	}
	// A deleted file's link fails the same way.
	s.call(t, "DELETE", "/api/v1/files/"+id, s.Key, nil, &body)
	gone := s.poll(t, submit(s.Key)["command_id"].(string), 60*time.Second)
	if gone["status"] != "FAILED" || gone["error_status"] != "UNREACHABLE_INPUT_FILE" {
		t.Errorf("a deleted file's storage_url as input: %v %v", gone["status"], gone["error_status"])
	}
}

// A local storage_url with a tampered, expired or other file's signature
// answers 403, and as an input is refused with a 422 on that input.
func TestFileLinkSignatures(t *testing.T) {
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
	data, _ := os.ReadFile(clip)
	s := newServer(t, testutil.EnvOptions{DenyPrivateURLs: true})
	_, r1 := s.uploadBytes(t, s.Key, "one.mp4", data)
	_, r2 := s.uploadBytes(t, s.Key, "two.mp4", data)
	link1 := s.pollFile(t, s.Key, r1["file_id"].(string))["storage_url"].(string)
	link2 := s.pollFile(t, s.Key, r2["file_id"].(string))["storage_url"].(string)
	u1, _ := url.Parse(link1)
	u2, _ := url.Parse(link2)

	tampered := *u1
	q := tampered.Query()
	sig := q.Get("signature")
	q.Set("signature", strings.ToUpper(sig[:1])+sig[1:]+"x")
	tampered.RawQuery = q.Encode()
	otherFile := *u1
	otherFile.RawQuery = u2.RawQuery // file two's signature on file one's path
	later := *u1
	q = later.Query()
	q.Set("expires", fmt.Sprint(time.Now().Add(48*time.Hour).Unix())) // extended by hand
	later.RawQuery = q.Encode()
	expired := s.URL + s.Signer.Sign("files/"+r1["file_id"].(string)+"/one.mp4", time.Now().Add(-time.Minute))

	for name, link := range map[string]string{"tampered": tampered.String(), "other file's signature": otherFile.String(),
		"expiry extended": later.String(), "expired": expired} {
		resp, body := getURL(t, link)
		if resp.StatusCode != 403 || !strings.Contains(string(body), "FORBIDDEN") {
			t.Errorf("%s link: %d %s, want 403", name, resp.StatusCode, body)
		}
		var answer map[string]any
		code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
			"input_files":    map[string]any{"in_video": link},
			"output_files":   map[string]any{"out_a": "a.mp3"},
			"ffmpeg_command": "-i {{in_video}} {{out_a}}",
		}, &answer)
		checkFieldError(t, name+" link as input", code, answer, "body", "input_files", "in_video")
	}
	if resp, _ := getURL(t, link1); resp.StatusCode != 200 {
		t.Errorf("the untouched link: %d, want 200", resp.StatusCode)
	}
}

func TestListFilesPaging(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	var ids []string
	for i := 0; i < 3; i++ {
		_, r := s.uploadBytes(t, s.Key, fmt.Sprintf("f%d.txt", i), []byte("text"))
		ids = append(ids, r["file_id"].(string))
	}
	var page map[string]any
	if code := s.call(t, "GET", "/api/v1/files?limit=2&offset=1", s.Key, nil, &page); code != 200 {
		t.Fatalf("list: %d %v", code, page)
	}
	files := page["files"].([]any)
	if len(files) != 2 || files[0].(map[string]any)["file_id"] != ids[1] || files[1].(map[string]any)["file_id"] != ids[0] ||
		page["limit"] != 2.0 || page["offset"] != 1.0 {
		t.Errorf("page limit 2 offset 1: %v, want newest first %v", page, []string{ids[1], ids[0]})
	}
	var body map[string]any
	code := s.call(t, "GET", "/api/v1/files?limit=zero", s.Key, nil, &body)
	checkFieldError(t, "bad limit", code, body, "query", "limit")
	code = s.call(t, "GET", "/api/v1/files?offset=-1", s.Key, nil, &body)
	checkFieldError(t, "bad offset", code, body, "query", "offset")
}

// The same server answers to several names; a link with its host spelled
// another way is still this engine's link, so another account can't have
// it downloaded as a foreign URL (private URLs allowed here, as with
// --allow-private-urls, which made that download possible).
func TestAnotherAccountsLinkUnderAnotherHostName(t *testing.T) {
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 1, Size: "64x48", Audio: true})
	data, _ := os.ReadFile(clip)
	s := newServer(t, testutil.EnvOptions{})
	_, r := s.uploadBytes(t, s.Key, "in.mp4", data)
	link := s.pollFile(t, s.Key, r["file_id"].(string))["storage_url"].(string)
	other := s.otherKey(t)
	for _, alias := range []string{
		strings.Replace(link, "127.0.0.1", "localhost", 1),
		strings.Replace(link, "127.0.0.1", "LOCALHOST.", 1),
	} {
		var sub map[string]any
		if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", other, map[string]any{
			"input_files":    map[string]any{"in_video": alias},
			"output_files":   map[string]any{"out_a": "a.mp3"},
			"ffmpeg_command": "-i {{in_video}} -vn -c:a libmp3lame {{out_a}}",
		}, &sub); code != 200 {
			t.Fatalf("submit %s: %d %v", alias, code, sub)
		}
		var got map[string]any
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			got = nil
			s.call(t, "GET", "/api/v1/commands/"+sub["command_id"].(string), other, nil, &got)
			if got["status"] == "FAILED" || got["status"] == "SUCCESS" {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		msg, _ := got["error_message"].(string)
		if got["status"] != "FAILED" || got["error_status"] != "UNREACHABLE_INPUT_FILE" || !strings.Contains(msg, "no stored file of your account") {
			t.Errorf("another account's link as %s: %v %v %v", alias, got["status"], got["error_status"], msg)
		}
	}
}

// A command that has not finished has no recorded outputs yet: deleting
// them is refused (409), not answered "0 deleted" and then forgotten.
func TestDeleteFilesOfAnUnfinishedCommand(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{NoStart: true}) // nothing runs: it stays QUEUED
	var r map[string]any
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, map[string]any{
		"input_files":    map[string]any{"in_video": "http://127.0.0.1:9/in.mp4"},
		"output_files":   map[string]any{"out_a": "a.mp3"},
		"ffmpeg_command": "-i {{in_video}} -vn {{out_a}}",
	}, &r); code != 200 {
		t.Fatalf("submit: %d %v", code, r)
	}
	var e map[string]any
	if code := s.call(t, "DELETE", "/api/v1/commands/"+r["command_id"].(string)+"/files", s.Key, nil, &e); code != 409 || e["error"] != "CONFLICT" {
		t.Fatalf("DELETE files of a QUEUED command: %d %v, want 409 CONFLICT", code, e)
	}
}
