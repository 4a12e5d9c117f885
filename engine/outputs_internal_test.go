package engine

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenOutputOnlyOpensRegularFilesInside: the uploader, outside the
// sandbox, must never be pointed at anything but a regular file in the
// command's out dir.
func TestOpenOutputOnlyOpensRegularFilesInside(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "out")
	os.Mkdir(out, 0o700)
	secret := filepath.Join(base, "secret.txt")
	os.WriteFile(secret, []byte("TOPSECRET"), 0o600)
	os.WriteFile(filepath.Join(out, "ok.mp4"), []byte("video"), 0o600)
	os.Symlink(secret, filepath.Join(out, "link.mp4"))
	os.Symlink(out, filepath.Join(base, "outlink"))
	syscall.Mkfifo(filepath.Join(out, "fifo.mp4"), 0o600)
	os.Mkdir(filepath.Join(out, "dir.mp4"), 0o700)
	os.Link(secret, filepath.Join(out, "hardlink.mp4"))

	f, fi, err := openOutput(out, "ok.mp4")
	if err != nil {
		t.Fatalf("regular file: %v", err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "video" || fi.Size() != 5 {
		t.Errorf("read %q, size %d", b, fi.Size())
	}
	for _, name := range []string{"link.mp4", "hardlink.mp4", "fifo.mp4", "dir.mp4", "../secret.txt", "..", ""} {
		done := make(chan error, 1)
		go func() {
			f, _, err := openOutput(out, name)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errNotRegular) {
				t.Errorf("openOutput(%q) = %v, want errNotRegular", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("openOutput(%q) blocked", name)
		}
	}
	if _, _, err := openOutput(filepath.Join(base, "outlink"), "ok.mp4"); err == nil {
		t.Error("openOutput through a symlinked dir succeeded")
	}
	if _, _, err := openOutput(out, "missing.mp4"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}
