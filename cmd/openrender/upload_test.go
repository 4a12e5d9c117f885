package main

import (
	"bytes"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
)

// postUpload streams a multipart upload of size bytes produced by body to
// base, announcing its exact length, and returns the status and answer.
func postUpload(t *testing.T, base, key, filename string, size int64, body io.Reader) (int, map[string]any) {
	t.Helper()
	boundary := "openrender-upload-test-boundary"
	head := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\nContent-Type: application/octet-stream\r\n\r\n", boundary, filename)
	tail := fmt.Sprintf("\r\n--%s--\r\n", boundary)
	req, err := http.NewRequest("POST", base+"/api/v1/files/upload",
		io.MultiReader(strings.NewReader(head), body, strings.NewReader(tail)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(head)) + size + int64(len(tail))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	req.Header.Set("X-API-KEY", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// The binary wires --max-upload-bytes to the upload handler: past it, 413.
func TestUploadCapFlag(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{dataDir: t.TempDir(), key: engine.NewAPIKey(), args: []string{"--max-upload-bytes", "4096"}})
	big := bytes.Repeat([]byte{'x'}, 64<<10)
	if code, body := postUpload(t, s.url, s.key, "big.bin", int64(len(big)), bytes.NewReader(big)); code != 413 || body["error"] != "PAYLOAD_TOO_LARGE" {
		t.Errorf("64 KiB upload over a 4 KiB cap: %d %v, want 413 PAYLOAD_TOO_LARGE", code, body)
	}
	if code, body := postUpload(t, s.url, s.key, "small.txt", 100, bytes.NewReader(big[:100])); code != 200 {
		t.Errorf("100-byte upload: %d %v, want 200", code, body)
	}
}

// wavStream is a WAV file of n bytes of silent 48 kHz stereo PCM, made as
// it is read: a real media file of any size without holding it anywhere.
func wavStream(n int64) (io.Reader, int64) {
	var h bytes.Buffer
	h.WriteString("RIFF")
	bin.Write(&h, bin.LittleEndian, uint32(36+n))
	h.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(48000), uint32(48000 * 4), uint16(4), uint16(16)} {
		bin.Write(&h, bin.LittleEndian, v) // fmt chunk: PCM, stereo, 48 kHz, 16-bit
	}
	h.WriteString("data")
	bin.Write(&h, bin.LittleEndian, uint32(n))
	return io.MultiReader(bytes.NewReader(h.Bytes()), io.LimitReader(zeros{}, n)), int64(h.Len()) + n
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// MemoryLimitBytes is the most resident memory a server may reach while it
// takes a 1 GiB upload.
const MemoryLimitBytes = 100 << 20

// Uploading 1 GiB keeps the server's peak resident memory under 100 MB: the
// upload streams to disk and on to the bucket. It takes ~10-30 s and 2 GiB of
// disk, so it runs only with OPENRENDER_UPLOAD_MEMORY_TEST=1 (the cap itself
// is checked in every run by TestUploadCapFlag and httpapi's
// TestUploadTooLarge). The server is built without -race, whose shadow
// memory would swamp the figure.
//
//	OPENRENDER_UPLOAD_MEMORY_TEST=1 go test ./cmd/openrender -run UploadMemory -v
func TestUploadMemory(t *testing.T) {
	if os.Getenv("OPENRENDER_UPLOAD_MEMORY_TEST") == "" {
		t.Skip("set OPENRENDER_UPLOAD_MEMORY_TEST=1 to upload 1 GiB and measure the server's memory")
	}
	dir := t.TempDir()
	noRace := filepath.Join(dir, "openrender-norace")
	if out, err := exec.Command("go", "build", "-o", noRace, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr, key := freeAddr(t), engine.NewAPIKey()
	cmd := exec.Command(noRace, "serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--api-key", key,
		"--workers", "1", "--log-level", "warn")
	cmd.Env = baseEnv()
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/api/v1/commands"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
	}
	idle := peakRSS(t, cmd.Process.Pid)

	const pcm = 1 << 30
	body, size := wavStream(pcm)
	start := time.Now()
	code, r := postUpload(t, base, key, "silence.wav", size, body)
	took := time.Since(start)
	if code != 200 {
		t.Fatalf("1 GiB upload: %d %v", code, r)
	}
	peak := peakRSS(t, cmd.Process.Pid)

	req, _ := http.NewRequest("GET", base+"/api/v1/files/"+r["file_id"].(string), nil)
	req.Header.Set("X-API-KEY", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if f["status"] != "STORED" || f["file_type"] != "audio" {
		t.Errorf("the uploaded WAV: %v", f)
	}
	t.Logf("1 GiB upload: %.1f s (%.0f MiB/s), server peak RSS %.1f MiB (%.1f MiB before the upload)",
		took.Seconds(), float64(size)/(1<<20)/took.Seconds(), float64(peak)/(1<<20), float64(idle)/(1<<20))
	if peak >= MemoryLimitBytes {
		t.Errorf("server peak RSS %d bytes during a 1 GiB upload, want under %d", peak, MemoryLimitBytes)
	}
}
