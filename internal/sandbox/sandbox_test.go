package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	return runInWith(t, mode, dir, nil, program, args...)
}

// runInWith is runIn with extra files handed to the helper as fds 3, 4...,
// inherited without close-on-exec like any fd a caller leaks.
func runInWith(t *testing.T, mode Mode, dir string, extra []*os.File, program string, args ...string) result {
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
	cmd.ExtraFiles = extra
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

// childArg makes the test binary, run as the sandboxed program, act as a
// probe from inside (see TestMain) instead of running the tests.
const childArg = "openrender-sandbox-test-child"

// TestMain lets the test binary itself be the program in the sandbox: a Go
// program issues the exact syscalls under test and reports each errno,
// where a shell or python would hide them (or not be installed).
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == childArg {
		os.Exit(sandboxChild(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

// sandboxChild runs inside the sandbox. It prints one "key: value" line per
// attempt and exits 0, so the test reads what happened rather than guessing
// from an exit status.
func sandboxChild(what string, args []string) int {
	switch what {
	case "unix-connect":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		fmt.Printf("socket: %s\n", errString(err))
		if err == nil {
			err = unix.Connect(fd, &unix.SockaddrUnix{Name: args[0]})
			fmt.Printf("connect: %s\n", errString(err))
			unix.Close(fd)
		}
		var pair [2]int
		pair, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		fmt.Printf("socketpair: %s\n", errString(err))
		if err == nil {
			unix.Close(pair[0])
			unix.Close(pair[1])
		}
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		fmt.Printf("socket-inet: %s\n", errString(err))
		if err == nil {
			unix.Close(fd)
		}
		// Pipes are what ffmpeg uses between its threads: they must work.
		var p [2]int
		err = unix.Pipe2(p[:], unix.O_CLOEXEC)
		fmt.Printf("pipe: %s\n", errString(err))
		return 0
	case "caps":
		// The capability sets the program holds, from /proc/self/status.
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "Cap") {
				fmt.Println(line)
			}
		}
		return 0
	case "fds":
		// Every open fd and what it points to, read while the listing's
		// own dir fd (shown as "self") is still open.
		dir, err := os.Open("/proc/self/fd")
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		defer dir.Close()
		names, err := dir.Readdirnames(-1)
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		self := strconv.Itoa(int(dir.Fd()))
		for _, name := range names {
			target, err := os.Readlink("/proc/self/fd/" + name)
			if err != nil {
				target = err.Error()
			}
			if name == self {
				target = "self"
			}
			fmt.Printf("fd %s: %s\n", name, target)
		}
		return 0
	}
	fmt.Printf("error: unknown child mode %q\n", what)
	return 1
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

// testBinary is this test binary, which the sandbox may run: its dir is
// readable and executable inside, like ffmpeg's.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// unixListener listens on a pathname Unix socket in a dir the sandbox is
// not given (the stand-in for /run/docker.sock or a database's socket) and
// reports any connection it accepts.
func unixListener(t *testing.T) (path string, ln *net.UnixListener, accepted <-chan struct{}) {
	t.Helper()
	// Short path: sun_path holds 108 bytes and t.TempDir can be long.
	dir, err := os.MkdirTemp("", "orsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "host.sock")
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// Anyone may connect as far as file modes go: only the sandbox may
	// stop it.
	os.Chmod(path, 0o777)
	os.Chmod(dir, 0o755)
	return path, ln, watchConnections(ln)
}

func TestSandboxReachesNoHostUnixSocket(t *testing.T) {
	mode := probedMode(t)
	sock, _, accepted := unixListener(t)
	// Sanity check: outside the sandbox the listener does accept.
	if c, err := net.Dial("unix", sock); err != nil {
		t.Fatalf("dial outside the sandbox: %v", err)
	} else {
		c.Close()
		select {
		case <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatal("the listener did not accept a connection from outside")
		}
	}

	dir := t.TempDir()
	r := runIn(t, mode, dir, testBinary(t), childArg, "unix-connect", sock)
	if r.err != nil {
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
	t.Logf("inside the sandbox:\n%s", r.stdout)
	for _, want := range []string{"socket: EACCES\n", "socketpair: EACCES\n", "socket-inet: EACCES\n", "pipe: ok\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("child output lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "connect: ok") {
		t.Error("connected to a Unix socket on the host from inside the sandbox")
	}

	// ffmpeg itself, through its unix: protocol (what a hostile playlist
	// or output URL would use).
	r = runIn(t, mode, dir, "/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "anullsrc", "-t", "0.2", "-f", "mpegts", "unix:"+sock)
	if r.err == nil {
		t.Error("ffmpeg writing to a host Unix socket succeeded inside the sandbox")
	}
	t.Logf("ffmpeg unix: %s", lastLine(r.stderr))

	select {
	case <-accepted:
		t.Error("the host's Unix socket accepted a connection from inside the sandbox")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSandboxClosesInheritedFDs(t *testing.T) {
	mode := probedMode(t)
	base := t.TempDir()
	secret := filepath.Join(base, "secret.txt")
	if err := os.WriteFile(secret, []byte("TOPSECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A listening socket is the worst thing to leak: the program could
	// accept the host's clients, or a connected one, talk to its peer.
	// A bare socket fd, not a net.Listener: a listener's File() shares its
	// file description, and an Accept goroutine on it could then block
	// Close for good.
	sockDir, err := os.MkdirTemp("", "orsock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(sfd, &unix.SockaddrUnix{Name: filepath.Join(sockDir, "l.sock")}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(sfd, 1); err != nil {
		t.Fatal(err)
	}
	lf := os.NewFile(uintptr(sfd), "listening socket")
	defer lf.Close()

	dir := filepath.Join(base, "run")
	os.Mkdir(dir, 0o700)
	r := runInWith(t, mode, dir, []*os.File{f, lf}, testBinary(t), childArg, "fds")
	if r.err != nil {
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
	t.Logf("fds inside the sandbox:\n%s", r.stdout)
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		n, target, _ := strings.Cut(strings.TrimPrefix(line, "fd "), ": ")
		switch {
		case n == "0" || n == "1" || n == "2":
		case target == "self":
			// the child's own listing of /proc/self/fd
		case target == "anon_inode:[eventpoll]" || target == "anon_inode:[eventfd]":
			// the child's Go runtime's poller, started by os.Open above
		default:
			t.Errorf("fd %s (%s) is open inside the sandbox", n, target)
		}
	}

	// ffmpeg can't read it either: its pipe: protocol reads an fd
	// number directly, which Landlock (path-based) never sees.
	rf := runInWith(t, mode, dir, []*os.File{f}, "/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-f", "data", "-i", "pipe:3", "-map", "0", "-c", "copy", "-f", "data", "-")
	// (With the fd leaked, this prints the file; with it closed, ffmpeg
	// reads nothing from pipe:3, which it may or may not call an error.)
	if strings.Contains(rf.stdout, "TOPSECRET") {
		t.Errorf("ffmpeg read the inherited fd 3: err=%v stdout=%q", rf.err, rf.stdout)
	}
	t.Logf("ffmpeg pipe:3: %s", lastLine(rf.stderr))
}

// The program holds no capability in either mode, even when the engine is
// root: in the fallback mode (no user namespace) it would otherwise be
// real root with every capability.
func TestSandboxedProgramHoldsNoCapabilities(t *testing.T) {
	modes := []Mode{probedMode(t)}
	if os.Geteuid() == 0 && modes[0] != ModeNetworkNamespace {
		modes = append(modes, ModeNetworkNamespace)
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			os.Mkdir(dir, 0o700)
			r := runInWith(t, mode, dir, nil, testBinary(t), childArg, "caps")
			if r.err != nil {
				t.Fatalf("child: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
			}
			seen := 0
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				name, value, _ := strings.Cut(line, ":")
				value = strings.TrimSpace(value)
				switch name {
				case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
					seen++
					if strings.Trim(value, "0") != "" {
						t.Errorf("%s = %s inside the sandbox, want none", name, value)
					}
				}
			}
			if seen < 4 {
				t.Fatalf("capability lines not found in:\n%s", r.stdout)
			}
		})
	}
}
