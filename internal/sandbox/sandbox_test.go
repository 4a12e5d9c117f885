package sandbox

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// probedMode runs Probe once per test binary.
func probedMode(t *testing.T) Mode {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed")
	}
	mode, err := Probe(context.Background(), ffmpeg, t.TempDir())
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	return mode
}

type result struct {
	err    error
	stdout string
	stderr string
}

// runIn runs program in the sandbox with dir/out writable and dir readable.
func runIn(t *testing.T, mode Mode, dir, program string, args ...string) result {
	t.Helper()
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o700)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, err := Command(ctx, Spec{
		Path:     program,
		Args:     args,
		Env:      []string{"PATH=/usr/bin:/bin", "HOME=" + out},
		ReadOnly: []string{dir},
		Writable: []string{out},
		Limits:   Limits{CPUSeconds: 30, FileBytes: 1 << 30, AddressSpaceBytes: 8 << 30, Processes: 256},
	}, mode)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	err = cmd.Run()
	return result{err, stdout.String(), stderr.String()}
}

func TestProbeFindsAWorkingMode(t *testing.T) {
	mode := probedMode(t)
	t.Logf("sandbox mode: %s, Landlock ABI %d, uid %d", mode, LandlockABI(), os.Getuid())
	if os.Getuid() == 0 && mode != ModeUserNamespace {
		t.Logf("user namespaces unavailable; using %s", mode)
	}
}

func TestSandboxDeniesFilesOutside(t *testing.T) {
	mode := probedMode(t)
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	os.Mkdir(dir, 0o700)
	secret := filepath.Join(base, "secret.txt")
	os.WriteFile(secret, []byte("TOPSECRET"), 0o600)
	os.WriteFile(filepath.Join(dir, "inside.txt"), []byte("inside"), 0o600)

	r := runIn(t, mode, dir, "/bin/cat", secret)
	if r.err == nil || strings.Contains(r.stdout, "TOPSECRET") {
		t.Fatalf("cat of a file outside the sandbox: err=%v stdout=%q", r.err, r.stdout)
	}
	if !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("stderr = %q, want Permission denied", r.stderr)
	}
	for _, p := range []string{"/etc/hostname", "/etc/passwd", "/root", "/home", "/proc/1/environ"} {
		if r := runIn(t, mode, dir, "/bin/cat", p); r.err == nil {
			t.Errorf("cat %s succeeded inside the sandbox", p)
		}
	}
	if r := runIn(t, mode, dir, "/bin/cat", "inside.txt"); r.err != nil || r.stdout != "inside" {
		t.Errorf("cat of a file inside: err=%v stdout=%q stderr=%q", r.err, r.stdout, r.stderr)
	}
	// Read-only inside: no writes next to the inputs.
	if r := runIn(t, mode, dir, "/bin/cp", "inside.txt", "copy.txt"); r.err == nil {
		t.Error("writing to the read-only part of the run dir succeeded")
	}
	if r := runIn(t, mode, dir, "/bin/cp", "inside.txt", "out/copy.txt"); r.err != nil {
		t.Errorf("writing to the writable dir: %v %s", r.err, r.stderr)
	}
	// No symlinks or FIFOs for the uploader to trip on.
	if r := runIn(t, mode, dir, "/bin/ln", "-s", secret, "out/link"); r.err == nil {
		t.Error("creating a symlink in the writable dir succeeded")
	}
	if r := runIn(t, mode, dir, "/usr/bin/mkfifo", "out/fifo"); r.err == nil {
		t.Error("creating a FIFO in the writable dir succeeded")
	}
}

func TestSandboxHasNoNetwork(t *testing.T) {
	mode := probedMode(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	got := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 2048)
		if _, _, err := udp.ReadFrom(buf); err == nil {
			got <- struct{}{}
		}
	}()

	dir := t.TempDir()
	tcpURL := "tcp://" + ln.Addr().String()
	udpURL := "udp://" + udp.LocalAddr().String()
	for _, target := range []string{tcpURL, udpURL, "http://" + ln.Addr().String() + "/x"} {
		r := runIn(t, mode, dir, "/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "anullsrc", "-t", "0.5", "-f", "mpegts", target)
		if r.err == nil {
			t.Errorf("ffmpeg writing to %s succeeded inside the sandbox", target)
		}
		t.Logf("%s: %s", target, lastLine(r.stderr))
	}
	select {
	case <-accepted:
		t.Error("the TCP listener saw a connection")
	case <-got:
		t.Error("the UDP listener got a datagram")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSandboxRunsFFmpeg(t *testing.T) {
	mode := probedMode(t)
	dir := t.TempDir()
	r := runIn(t, mode, dir, "/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10",
		"-vf", "drawtext=text=hello:fontsize=20", "-c:v", "libx264", "-preset", "ultrafast", "out/x.mp4")
	if r.err != nil {
		t.Fatalf("ffmpeg in the sandbox: %v\n%s", r.err, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "out", "x.mp4")); err != nil || fi.Size() == 0 {
		t.Fatalf("no output: %v", err)
	}
}

func TestSandboxEnvironmentIsExactlyTheSpec(t *testing.T) {
	mode := probedMode(t)
	t.Setenv("FFREPORT", "file=/tmp/x.log")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	t.Setenv("LD_PRELOAD", "/nonexistent.so")
	r := runIn(t, mode, t.TempDir(), "/usr/bin/env")
	if r.err != nil {
		t.Fatalf("env: %v %s", r.err, r.stderr)
	}
	for _, bad := range []string{"FFREPORT", "http_proxy", "LD_", specEnv} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("environment inside has %s:\n%s", bad, r.stdout)
		}
	}
}

func TestHelperRefusesBadSpec(t *testing.T) {
	cmd := exec.Command(selfExe)
	cmd.Env = []string{specEnv + "={not json"}
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errorsAs(err, &exitErr) || exitErr.ExitCode() != HelperFailedExit || !strings.HasPrefix(string(out), HelperErrorPrefix) {
		t.Fatalf("err=%v out=%q", err, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// TestNetworkNamespaceModeAlsoConfines checks the root fallback (no user
// namespace) on its own, since Probe picks the user-namespace mode where it
// works.
func TestNetworkNamespaceModeAlsoConfines(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the network-namespace mode needs root")
	}
	probedMode(t) // skips without ffmpeg
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	os.Mkdir(dir, 0o700)
	secret := filepath.Join(base, "secret.txt")
	os.WriteFile(secret, []byte("TOPSECRET"), 0o600)
	if r := runIn(t, ModeNetworkNamespace, dir, "/bin/cat", secret); r.err == nil || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("cat outside: err=%v stderr=%q", r.err, r.stderr)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := runIn(t, ModeNetworkNamespace, dir, "/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "anullsrc", "-t", "0.2", "-f", "mpegts", "tcp://"+ln.Addr().String())
	if r.err == nil {
		t.Error("ffmpeg reached the host's loopback in the network-namespace mode")
	}
	if r := runIn(t, ModeNetworkNamespace, dir, "/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "testsrc=duration=0.2", "out/x.mp4"); r.err != nil {
		t.Errorf("plain ffmpeg run: %v\n%s", r.err, r.stderr)
	}
}
