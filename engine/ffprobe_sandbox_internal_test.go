package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/media"
)

// ffprobeMarker is in the secret file's metadata: no probe may print it.
const ffprobeMarker = "PROBESECRETMARKER"

// ffprobeTools returns the absolute paths of ffmpeg and ffprobe, or skips.
func ffprobeTools(t testing.TB) (ffmpeg, ffprobe string) {
	t.Helper()
	var err error
	if ffmpeg, err = exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	if ffprobe, err = exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe is not installed")
	}
	ffprobe, _ = filepath.Abs(ffprobe)
	return ffmpeg, ffprobe
}

func makeMedia(t testing.TB, ffmpeg, path string, args ...string) {
	t.Helper()
	args = append(append([]string{"-v", "error", "-y"}, args...), path)
	if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", filepath.Base(path), err, out)
	}
}

// sandboxedProber is the engine's Prober as New builds it, for an engine
// that is not started: its first ffprobe run settles the sandbox itself.
func sandboxedProber(t testing.TB, ffprobe string) (*media.Prober, *ffprobeRunner) {
	t.Helper()
	p := newProber(Config{
		FFprobePath:    ffprobe,
		WorkDir:        t.TempDir(),
		MaxMemoryBytes: DefaultMaxMemoryBytes,
		MaxProcesses:   DefaultMaxProcesses,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return p, p.Runner.(*ffprobeRunner)
}

// Files the native MP4 reader doesn't handle go to ffprobe, in the
// sandbox, and come back with the same facts as an unsandboxed ffprobe.
func TestSandboxedFFprobeReadsWAVAndMKV(t *testing.T) {
	ffmpeg, ffprobe := ffprobeTools(t)
	dir := t.TempDir()
	wav := filepath.Join(dir, "tone.wav")
	makeMedia(t, ffmpeg, wav, "-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=22050", "-ac", "2")
	mkv := filepath.Join(dir, "clip.mkv")
	makeMedia(t, ffmpeg, mkv, "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10", "-c:v", "mpeg4")

	p, r := sandboxedProber(t, ffprobe)
	info, err := p.Probe(context.Background(), wav)
	if err != nil {
		t.Fatalf("probe WAV in the sandbox: %v", err)
	}
	if r.sandbox == nil || r.err != nil {
		t.Fatalf("ffprobe did not run sandboxed (sandbox %v, err %v)", r.sandbox, r.err)
	}
	if info.FileType != "audio" || info.Codec != "pcm_s16le" || deref(info.SampleRate) != 22050 ||
		deref(info.Channels) != 2 || info.Duration == nil || *info.Duration != 2 {
		t.Errorf("WAV facts %+v; want 2 s of 22050 Hz stereo pcm_s16le audio", info)
	}
	for _, path := range []string{wav, mkv} {
		got, err := p.Probe(context.Background(), path)
		if err != nil {
			t.Fatalf("sandboxed probe of %s: %v", filepath.Base(path), err)
		}
		want, err := (&media.Prober{}).Probe(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: sandboxed facts %+v, unsandboxed %+v", filepath.Base(path), got, want)
		}
	}
	if info, _ := p.Probe(context.Background(), mkv); info.Codec != "mpeg4" || deref(info.Width) != 160 {
		t.Errorf("MKV facts %+v; want 160-wide mpeg4", info)
	}

	// Not media stays not media (ErrNotMedia, not a sandbox error).
	junk := filepath.Join(dir, "junk.wav")
	os.WriteFile(junk, []byte("this is not a wav file at all"), 0o600)
	if _, err := p.Probe(context.Background(), junk); !errors.Is(err, media.ErrNotMedia) {
		t.Errorf("junk: err = %v, want ErrNotMedia", err)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// A playlist whose segment is an absolute path to a file elsewhere (what a
// reference check bypass would let through) must not make the sandboxed
// ffprobe read that file. The runner is called directly with the Prober's
// arguments, past media's reference check, to test the layer beneath it.
func TestSandboxedFFprobeCannotReadOutsideTheProbedDir(t *testing.T) {
	ffmpeg, ffprobe := ffprobeTools(t)
	secret := filepath.Join(t.TempDir(), "secret.ts")
	makeMedia(t, ffmpeg, secret, "-f", "lavfi", "-i", "testsrc=duration=1:size=208x120:rate=10",
		"-c:v", "mpeg2video", "-metadata", "service_name="+ffprobeMarker, "-f", "mpegts")
	out := filepath.Join(t.TempDir(), "out")
	os.Mkdir(out, 0o700)
	playlist := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n" + secret + "\n#EXT-X-ENDLIST\n"
	os.WriteFile(filepath.Join(out, "list.m3u8"), []byte(playlist), 0o600)

	cmd := media.FFprobeCommand{
		Path: ffprobe,
		Args: []string{"-v", "error", "-protocol_whitelist", "file,crypto", "-print_format", "json",
			"-show_format", "-show_streams", "file:list.m3u8"},
		Dir:            out,
		Env:            []string{"PATH=/usr/bin:/bin"},
		MaxStdoutBytes: 1 << 20,
		MaxStderrBytes: 8 << 10,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Unsandboxed, the same run reads the secret: the test means something.
	plain, err := media.ExecFFprobe{}.RunFFprobe(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain.Stdout, []byte(`"codec_name": "mpeg2video"`)) {
		t.Fatalf("unsandboxed ffprobe did not read the segment; the test proves nothing:\n%s\n%s", plain.Stdout, plain.StderrTail)
	}

	p, r := sandboxedProber(t, ffprobe)
	res, err := r.RunFFprobe(ctx, cmd)
	if err != nil {
		t.Fatalf("sandboxed run: %v", err)
	}
	if r.sandbox == nil {
		t.Fatal("ffprobe did not run sandboxed")
	}
	if bytes.Contains(res.Stdout, []byte("mpeg2video")) || bytes.Contains(res.Stdout, []byte(`"codec_type"`)) ||
		bytes.Contains(res.Stdout, []byte(ffprobeMarker)) || bytes.Contains(res.StderrTail, []byte(ffprobeMarker)) {
		t.Errorf("the sandboxed ffprobe read the secret segment:\n%s\n%s", res.Stdout, res.StderrTail)
	}
	// At -v error, ffprobe reports the denied open only as a segment it
	// could not load.
	if res.ExitCode == 0 || !bytes.Contains(res.StderrTail, []byte("Error when loading first segment")) {
		t.Errorf("ffprobe did not fail on the segment (exit %d):\n%s", res.ExitCode, res.StderrTail)
	}

	// Through the Prober too (the reference check may stop it first):
	// never facts of the secret.
	if info, err := p.Probe(ctx, filepath.Join(out, "list.m3u8")); err == nil {
		t.Errorf("probing the playlist gave facts %+v", info)
	} else if strings.Contains(err.Error(), ffprobeMarker) {
		t.Errorf("the probe error quotes the secret: %v", err)
	}
}

// An engine that can't sandbox ffprobe refuses to run it rather than run
// it unsandboxed; with UnsafeNoSandbox it runs it directly.
func TestFFprobeRunnerNeverFallsBackOnItsOwn(t *testing.T) {
	ffmpeg, ffprobe := ffprobeTools(t)
	dir := t.TempDir()
	wav := filepath.Join(dir, "tone.wav")
	makeMedia(t, ffmpeg, wav, "-f", "lavfi", "-i", "sine=duration=1")
	// The sandbox probe can't run a missing program: no sandbox.
	p := newProber(Config{FFprobePath: "/nonexistent/ffprobe", WorkDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := p.Runner.(*ffprobeRunner)
	_, err := r.RunFFprobe(context.Background(), media.FFprobeCommand{Path: ffprobe, Args: []string{"-version"}, Dir: dir})
	if !errors.Is(err, errSandbox) {
		t.Errorf("no sandbox: err = %v, want errSandbox", err)
	}

	p = newProber(Config{FFprobePath: ffprobe, WorkDir: t.TempDir(), UnsafeNoSandbox: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if info, err := p.Probe(context.Background(), wav); err != nil || info.FileType != "audio" {
		t.Errorf("UnsafeNoSandbox: %+v, %v", info, err)
	}
	if r := p.Runner.(*ffprobeRunner); r.sandbox != nil {
		t.Error("UnsafeNoSandbox: ffprobe ran sandboxed")
	}
}

// Probes from many goroutines while Start settles the sandbox: no race.
func TestFFprobeRunnerConcurrentDecide(t *testing.T) {
	ffmpeg, ffprobe := ffprobeTools(t)
	dir := t.TempDir()
	wav := filepath.Join(dir, "tone.wav")
	makeMedia(t, ffmpeg, wav, "-f", "lavfi", "-i", "sine=duration=1")
	p, r := sandboxedProber(t, ffprobe)
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			_, err := p.Probe(context.Background(), wav)
			errs <- err
		}()
	}
	r.how(context.Background())
	r.mu.Lock()
	sb := r.sandbox
	r.mu.Unlock()
	r.decide(sb) // what chooseRunner does
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkFFprobeWAV compares one ffprobe run (a WAV, which the native
// reader doesn't handle) directly and in the sandbox, and the native MP4
// path, which starts no process.
func BenchmarkFFprobeWAV(b *testing.B) {
	ffmpeg, ffprobe := ffprobeTools(b)
	dir := b.TempDir()
	wav := filepath.Join(dir, "tone.wav")
	makeMedia(b, ffmpeg, wav, "-f", "lavfi", "-i", "sine=duration=2")
	mp4 := filepath.Join(dir, "clip.mp4")
	makeMedia(b, ffmpeg, mp4, "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10", "-c:v", "libx264", "-pix_fmt", "yuv420p")
	sandboxed, _ := sandboxedProber(b, ffprobe)
	for _, c := range []struct {
		name string
		p    *media.Prober
		path string
	}{
		{"direct", &media.Prober{FFprobePath: ffprobe}, wav},
		{"sandboxed", sandboxed, wav},
		{"native-mp4-sandboxed", sandboxed, mp4},
	} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := c.p.Probe(context.Background(), c.path); err != nil { // settles the sandbox
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.p.Probe(context.Background(), c.path); err != nil {
					b.Fatal(fmt.Errorf("%s: %w", c.name, err))
				}
			}
		})
	}
}
