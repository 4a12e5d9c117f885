package engine

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/internal/sandbox"
)

// TestSandboxRunnerConfinesFFmpeg runs ffmpeg through the engine's own
// sandbox runner, with the engine's injected arguments, on arguments that
// reach outside the work dir (the kind the submit-time validator stops; run
// here to test the layer beneath it). Each must fail with a permission or
// network error, and nothing may reach the canaries.
func TestSandboxRunnerConfinesFFmpeg(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed")
	}
	base := t.TempDir()
	mode, err := sandbox.Probe(context.Background(), ffmpeg, base)
	if err != nil {
		t.Fatal(err)
	}
	runner := sandboxRunner{mode: mode}

	secret := filepath.Join(base, "secret.txt")
	os.WriteFile(secret, []byte("TOPSECRET"), 0o600)
	tcp, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer tcp.Close()
	tcpHit := make(chan struct{}, 1)
	go func() {
		if c, err := tcp.Accept(); err == nil {
			c.Close()
			tcpHit <- struct{}{}
		}
	}()
	udp, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer udp.Close()
	udpHit := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 65536)
		if _, _, err := udp.ReadFrom(buf); err == nil {
			udpHit <- struct{}{}
		}
	}()

	src := []string{"-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10"}
	cases := map[string][]string{
		"read a file outside":      {"-f", "data", "-i", secret, "-map", "0", "-c", "copy", "-f", "data", "out/x.bin"},
		"drawtext textfile":        append(append([]string{}, src...), "-vf", "drawtext=textfile="+secret, "-t", "0.2", "out/x.mp4"),
		"write a file outside":     append(append([]string{}, src...), "-t", "0.2", filepath.Join(base, "written.mp4")),
		"write next to the inputs": append(append([]string{}, src...), "-t", "0.2", "in/planted.mp4"),
		"tcp output":               append(append([]string{}, src...), "-t", "0.5", "-f", "mpegts", "tcp://"+tcp.Addr().String()),
		"udp output":               append(append([]string{}, src...), "-t", "0.5", "-f", "mpegts", "udp://"+udp.LocalAddr().String()),
		"http via movie":           {"-f", "lavfi", "-i", "movie=http\\\\://" + tcp.Addr().String() + "/x.ts", "-t", "0.2", "out/x.mp4"},
	}
	for name, argv := range cases {
		dir := filepath.Join(base, "run-"+strings.ReplaceAll(name, " ", "-"))
		for _, sub := range []string{inDir, outDir, tmpDir} {
			os.MkdirAll(filepath.Join(dir, sub), 0o700)
		}
		res, err := runner.Run(context.Background(), RunSpec{
			Path: ffmpeg, Args: withEngineArgs(argv, 30, DefaultMaxPixels), Dir: dir,
			Env:     []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(dir, tmpDir)},
			Timeout: 30 * time.Second, StderrTailBytes: 4096,
			MaxFileBytes: 1 << 30, MaxCPUSeconds: 60, MaxMemoryBytes: DefaultMaxMemoryBytes, MaxProcesses: DefaultMaxProcesses,
			Writable: writableDirs(dir),
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tail := string(res.StderrTail)
		if res.ExitCode == 0 {
			t.Errorf("%s: ffmpeg succeeded inside the sandbox:\n%s", name, tail)
			continue
		}
		if !strings.Contains(tail, "Permission denied") && !strings.Contains(tail, "Network is unreachable") {
			t.Errorf("%s: exit %d without a permission or network error:\n%s", name, res.ExitCode, tail)
		}
		t.Logf("%s: exit %d: %s", name, res.ExitCode, lastLineOf(tail))
	}
	if _, err := os.Stat(filepath.Join(base, "written.mp4")); err == nil {
		t.Error("ffmpeg wrote a file outside its work dir")
	}
	select {
	case <-tcpHit:
		t.Error("the TCP canary saw a connection")
	case <-udpHit:
		t.Error("the UDP canary got a datagram")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSandboxRunnerReportsHelperFailures: a sandbox that can't be set up is
// an error of the engine, not an ffmpeg exit status blamed on the user.
func TestSandboxRunnerReportsHelperFailures(t *testing.T) {
	dir := t.TempDir()
	_, err := sandboxRunner{mode: sandbox.ModeUserNamespace}.Run(context.Background(), RunSpec{
		Path: "/bin/true", Dir: dir, StderrTailBytes: 4096,
		Writable: []string{filepath.Join(dir, "missing")},
	})
	if err == nil || !strings.Contains(err.Error(), "sandbox") {
		t.Fatalf("err = %v, want a sandbox error", err)
	}
}

func TestEngineArgsGuardEveryInput(t *testing.T) {
	got := strings.Join(withEngineArgs([]string{"-i", "in/a.mp4", "-f", "lavfi", "-i", "color", "-map", "0", "out/x.mp4"}, 61, 100), " ")
	want := "-hide_banner -nostats -nostdin -y -progress pipe:1 -timelimit 61 " +
		"-protocol_whitelist file,crypto,data -max_pixels 100 -i in/a.mp4 -f lavfi " +
		"-protocol_whitelist file,crypto,data -max_pixels 100 -i color -map 0 out/x.mp4"
	if got != want {
		t.Errorf("withEngineArgs:\n got %s\nwant %s", got, want)
	}
}

func lastLineOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// BenchmarkSandboxOverhead runs the same tiny ffmpeg command (0.1 s of
// testsrc to the null muxer) as a plain process and in the sandbox,
// alternating, and reports the medians and their difference: what the
// sandbox adds to every command (re-executing the engine binary, the
// namespaces, rlimits and Landlock, then the exec of ffmpeg).
//
// Run: go test ./engine -run '^$' -bench SandboxOverhead -benchtime 40x
func BenchmarkSandboxOverhead(b *testing.B) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		b.Skip("ffmpeg is not installed")
	}
	base := b.TempDir()
	mode, err := sandbox.Probe(context.Background(), ffmpeg, base)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(base, "run")
	for _, sub := range []string{inDir, outDir, tmpDir} {
		os.MkdirAll(filepath.Join(dir, sub), 0o700)
	}
	spec := RunSpec{
		Path: ffmpeg, Dir: dir,
		Args:    withEngineArgs([]string{"-f", "lavfi", "-i", "testsrc=duration=0.1:size=320x240:rate=25", "-f", "null", "-"}, 60, DefaultMaxPixels),
		Env:     []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(dir, tmpDir)},
		Timeout: 30 * time.Second, StderrTailBytes: 4096,
		MaxFileBytes: 1 << 30, MaxCPUSeconds: 60, MaxMemoryBytes: DefaultMaxMemoryBytes, MaxProcesses: DefaultMaxProcesses,
		Writable: writableDirs(dir),
	}
	run := func(r Runner) time.Duration {
		start := time.Now()
		res, err := r.Run(context.Background(), spec)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("run: %v %s", err, res.StderrTail)
		}
		return time.Since(start)
	}
	plain, boxed := ProcessRunner{}, sandboxRunner{mode: mode}
	run(plain)
	run(boxed)
	var plainTimes, boxedTimes []time.Duration
	b.ResetTimer()
	for range b.N {
		plainTimes = append(plainTimes, run(plain))
		boxedTimes = append(boxedTimes, run(boxed))
	}
	b.StopTimer()
	p, s := median(plainTimes), median(boxedTimes)
	b.ReportMetric(float64(p.Microseconds())/1000, "plain-ms")
	b.ReportMetric(float64(s.Microseconds())/1000, "sandboxed-ms")
	b.ReportMetric(float64((s-p).Microseconds())/1000, "added-ms")
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
