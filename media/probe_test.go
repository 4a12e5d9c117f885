package media

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// requireFFmpeg skips the test when the host has no ffmpeg/ffprobe, so the
// parser tests still run on a bare build machine.
func requireFFmpeg(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("skipping: %s is not installed (%v)", tool, err)
		}
	}
}

// makeMedia writes dir/name with ffmpeg; args are everything between the
// global options and the output file.
func makeMedia(tb testing.TB, dir, name string, args ...string) string {
	tb.Helper()
	out := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	argv = append(argv, out)
	if output, err := exec.CommandContext(ctx, "ffmpeg", argv...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg %s: %v\n%s", strings.Join(argv, " "), err, output)
	}
	return out
}

// Sources shared by the generated files: a 320x180 25 fps test card and a
// sine tone, both cut to 2 s.
var (
	videoSource = []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"}
	audioSource = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
)

func join(parts ...[]string) []string {
	var all []string
	for _, part := range parts {
		all = append(all, part...)
	}
	return all
}

// expect lists the facts a generated file must have; zero values mean the
// fact must be absent.
type expect struct {
	fileType, fileFormat, mimeType, codec, pixelFormat string
	width, height                                      int
	frameRate                                          float64
	duration                                           float64
	sampleRate, channels                               int
	videoBitrate, audioBitrate                         bool // present and > 0
}

func TestProbeGeneratedMedia(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	twoSeconds := []string{"-t", "2"}
	cases := []struct {
		name string
		args []string
		want expect
	}{
		{"clip.mp4", join(videoSource, audioSource, twoSeconds,
			[]string{"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2"}),
			expect{fileType: "video", fileFormat: "mp4", mimeType: "video/mp4", codec: "h264", pixelFormat: "yuv420p",
				width: 320, height: 180, frameRate: 25, duration: 2, sampleRate: 48000, channels: 2,
				videoBitrate: true, audioBitrate: true}},
		// WebM and Matroska state no per-stream bitrate and the audio rate is
		// unknown, so neither bitrate can be derived: they must be absent.
		{"clip.webm", join(videoSource, audioSource, twoSeconds,
			[]string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"}),
			expect{fileType: "video", fileFormat: "webm", mimeType: "video/webm", codec: "vp9", pixelFormat: "yuv420p",
				width: 320, height: 180, frameRate: 25, duration: 2, sampleRate: 48000, channels: 1}},
		{"clip.mkv", join(videoSource, audioSource, twoSeconds,
			[]string{"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"}),
			expect{fileType: "video", fileFormat: "mkv", mimeType: "video/x-matroska", codec: "h264", pixelFormat: "yuv420p",
				width: 320, height: 180, frameRate: 25, duration: 2, sampleRate: 48000, channels: 1}},
		{"clip.mov", join(videoSource, audioSource, twoSeconds,
			[]string{"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"}),
			expect{fileType: "video", fileFormat: "mov", mimeType: "video/quicktime", codec: "h264", pixelFormat: "yuv420p",
				width: 320, height: 180, frameRate: 25, duration: 2, sampleRate: 48000, channels: 1,
				videoBitrate: true, audioBitrate: true}},
		// An MPEG-TS segment: the video bitrate is derived from the total.
		{"segment_000.ts", join(videoSource, audioSource, twoSeconds,
			[]string{"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts"}),
			expect{fileType: "video", fileFormat: "ts", mimeType: "video/mp2t", codec: "h264", pixelFormat: "yuv420p",
				width: 320, height: 180, frameRate: 25, duration: 2, sampleRate: 48000, channels: 1,
				videoBitrate: true, audioBitrate: true}},
		{"tone.mp3", join(audioSource, twoSeconds, []string{"-c:a", "libmp3lame", "-b:a", "128k"}),
			expect{fileType: "audio", fileFormat: "mp3", mimeType: "audio/mpeg", codec: "mp3",
				duration: 2, sampleRate: 48000, channels: 1, audioBitrate: true}},
		{"tone.wav", join(audioSource, twoSeconds),
			expect{fileType: "audio", fileFormat: "wav", mimeType: "audio/wav", codec: "pcm_s16le",
				duration: 2, sampleRate: 48000, channels: 1, audioBitrate: true}},
		{"tone.m4a", join(audioSource, twoSeconds, []string{"-c:a", "aac"}),
			expect{fileType: "audio", fileFormat: "m4a", mimeType: "audio/mp4", codec: "aac",
				duration: 2, sampleRate: 48000, channels: 1, audioBitrate: true}},
		{"frame.png", join(videoSource, []string{"-frames:v", "1"}),
			expect{fileType: "image", fileFormat: "png", mimeType: "image/png", codec: "png", pixelFormat: "rgb24",
				width: 320, height: 180}},
		{"frame.jpg", join(videoSource, []string{"-frames:v", "1"}),
			expect{fileType: "image", fileFormat: "jpg", mimeType: "image/jpeg", codec: "mjpeg", pixelFormat: "yuvj420p",
				width: 320, height: 180}},
		// An animated GIF is an image that keeps its duration and frame rate.
		{"anim.gif", join(videoSource, twoSeconds),
			expect{fileType: "image", fileFormat: "gif", mimeType: "image/gif", codec: "gif", pixelFormat: "bgra",
				width: 320, height: 180, frameRate: 25, duration: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := makeMedia(t, dir, tc.name, tc.args...)
			info, err := (&Prober{}).Probe(context.Background(), path)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			assertFacts(t, info, tc.want)
		})
	}

	t.Run("subtitles.srt", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(dir, "subtitles.srt")
		srt := "1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:02,000\nWorld\n"
		if err := os.WriteFile(path, []byte(srt), 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := (&Prober{}).Probe(context.Background(), path)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		assertFacts(t, info, expect{fileType: "other", fileFormat: "srt", mimeType: "application/x-subrip", codec: "subrip"})
	})

	t.Run("cover-art.mp3", func(t *testing.T) {
		t.Parallel()
		sub := t.TempDir()
		cover := makeMedia(t, sub, "cover.png", join(videoSource, []string{"-frames:v", "1"})...)
		path := makeMedia(t, sub, "song.mp3", join(audioSource, []string{"-i", cover, "-t", "2", "-map", "0", "-map", "1",
			"-c:a", "libmp3lame", "-c:v", "png", "-disposition:v", "attached_pic"})...)
		info, err := (&Prober{}).Probe(context.Background(), path)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		assertFacts(t, info, expect{fileType: "audio", fileFormat: "mp3", mimeType: "audio/mpeg", codec: "mp3",
			duration: 2, sampleRate: 48000, channels: 1, audioBitrate: true})
	})

	t.Run("index.m3u8", func(t *testing.T) {
		t.Parallel()
		sub := t.TempDir()
		path := makeMedia(t, sub, "index.m3u8", join(videoSource, audioSource, []string{"-t", "4",
			"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "hls", "-hls_time", "1"})...)
		info, err := (&Prober{}).Probe(context.Background(), path)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		assertFacts(t, info, expect{fileType: "video", fileFormat: "m3u8", mimeType: "application/vnd.apple.mpegurl",
			codec: "h264", pixelFormat: "yuv420p", width: 320, height: 180, frameRate: 25, duration: 4,
			sampleRate: 48000, channels: 1})
	})
}

func TestProbeRejectsNonMedia(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	mp4 := makeMedia(t, dir, "whole.mp4", join(videoSource, audioSource, []string{"-t", "2", "-c:v", "libx264", "-c:a", "aac"})...)
	whole, err := os.ReadFile(mp4)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, content, reason string
	}{
		{"text.mp4", "this is not a video\n", "Invalid data found when processing input"},
		{"empty.mp4", "", "Invalid data found when processing input"},
		{"empty", "", "Invalid data found when processing input"},
		// The moov box is written last, so the first half has no index.
		{"truncated.mp4", string(whole[:len(whole)/2]), "moov atom not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := (&Prober{}).Probe(context.Background(), path)
			if !errors.Is(err, ErrNotMedia) {
				t.Fatalf("err = %v, want ErrNotMedia", err)
			}
			message := err.Error()
			if !strings.Contains(message, tc.reason) {
				t.Errorf("message %q lacks ffprobe's reason %q", message, tc.reason)
			}
			if strings.Contains(message, dir) || strings.Contains(message, "file:"+tc.name) {
				t.Errorf("message %q reveals the path", message)
			}
			if !strings.Contains(message, tc.name) {
				t.Errorf("message %q does not name the file", message)
			}
		})
	}
}

func TestProbeMissingFileIsNotNotMedia(t *testing.T) {
	dir := t.TempDir()
	_, err := (&Prober{}).Probe(context.Background(), filepath.Join(dir, "gone.mp4"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNotMedia) {
		t.Fatalf("err = %v, want fs.ErrNotExist and not ErrNotMedia", err)
	}
	if strings.Contains(err.Error(), dir) {
		t.Errorf("message %q reveals the directory", err)
	}
	if _, err := (&Prober{}).Probe(context.Background(), dir); err == nil || errors.Is(err, ErrNotMedia) {
		t.Fatalf("probing a directory: err = %v", err)
	}
}

// A name that looks like an option must be read as a file.
func TestProbeRelativeNameStartingWithDash(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	makeMedia(t, dir, "-i.wav", join(audioSource, []string{"-t", "1"})...)
	t.Chdir(dir)
	info, err := (&Prober{}).Probe(context.Background(), "-i.wav")
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if info.FileType != "audio" || info.FileFormat != "wav" {
		t.Fatalf("info = %+v", info)
	}
}

// A playlist must not make ffprobe fetch URLs: the protocol whitelist allows
// local files only.
func TestProbeDoesNotFetchPlaylistURLs(t *testing.T) {
	requireFFmpeg(t)
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer server.Close()
	dir := t.TempDir()
	playlist := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n" +
		server.URL + "/segment.ts\n#EXT-X-ENDLIST\n"
	path := filepath.Join(dir, "remote.m3u8")
	if err := os.WriteFile(path, []byte(playlist), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := (&Prober{}).Probe(context.Background(), path)
	if err == nil {
		t.Fatal("Probe of a remote playlist succeeded")
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("ffprobe made %d HTTP requests", n)
	}
}

// fakeFFprobe writes an executable shell script standing in for ffprobe.
func fakeFFprobe(t *testing.T, body string) string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("skipping: no /bin/sh for a fake ffprobe")
	}
	path := filepath.Join(t.TempDir(), "fake-ffprobe")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func mediaFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input.mp4")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProbeRunsFFprobeIsolated(t *testing.T) {
	t.Setenv("OPENRENDER_TEST_SECRET", "must-not-leak")
	record := filepath.Join(t.TempDir(), "record")
	fake := fakeFFprobe(t, `{ pwd; printf '%s\n' "$@"; env; } > '`+record+`'; echo '{}'`)
	input := mediaFile(t)

	_, err := (&Prober{FFprobePath: fake}).Probe(context.Background(), input)
	if !errors.Is(err, ErrNotMedia) {
		t.Fatalf("err = %v, want ErrNotMedia for output without streams", err)
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if lines[0] != filepath.Dir(input) {
		t.Errorf("ffprobe ran in %q, want the file's directory", lines[0])
	}
	wantArgs := []string{"-v", "error", "-protocol_whitelist", "file,crypto", "-print_format", "json",
		"-show_format", "-show_streams", "file:input.mp4"}
	if got := strings.Join(lines[1:1+len(wantArgs)], " "); got != strings.Join(wantArgs, " ") {
		t.Errorf("args = %q, want %q", got, strings.Join(wantArgs, " "))
	}
	env := strings.Join(lines[1+len(wantArgs):], "\n")
	if strings.Contains(env, "must-not-leak") {
		t.Error("the engine's environment leaked into ffprobe")
	}
	if !strings.Contains(env, "PATH=/usr/bin:/bin\n") {
		t.Errorf("PATH not set to /usr/bin:/bin; env:\n%s", env)
	}
}

func TestProbeTimeoutKillsFFprobe(t *testing.T) {
	fake := fakeFFprobe(t, "exec sleep 30")
	start := time.Now()
	_, err := (&Prober{FFprobePath: fake, Timeout: 200 * time.Millisecond}).Probe(context.Background(), mediaFile(t))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotMedia) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Probe returned after %s; ffprobe was not killed", elapsed)
	}
}

func TestProbeCancelledContext(t *testing.T) {
	fake := fakeFFprobe(t, "exec sleep 30")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := (&Prober{FFprobePath: fake}).Probe(ctx, mediaFile(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestProbeCapsOutput(t *testing.T) {
	fake := fakeFFprobe(t, "head -c 5000000 /dev/zero")
	_, err := (&Prober{FFprobePath: fake}).Probe(context.Background(), mediaFile(t))
	if !errors.Is(err, ErrNotMedia) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v, want ErrNotMedia about the output size", err)
	}
}

func TestProbeHostFailureIsNotNotMedia(t *testing.T) {
	fake := fakeFFprobe(t, `echo "file:input.mp4: Permission denied" >&2; exit 1`)
	_, err := (&Prober{FFprobePath: fake}).Probe(context.Background(), mediaFile(t))
	if err == nil || errors.Is(err, ErrNotMedia) || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("err = %v, want a non-ErrNotMedia error quoting the reason", err)
	}
}

func TestProbeMissingBinary(t *testing.T) {
	_, err := (&Prober{FFprobePath: filepath.Join(t.TempDir(), "no-ffprobe")}).Probe(context.Background(), mediaFile(t))
	if err == nil || errors.Is(err, ErrNotMedia) {
		t.Fatalf("err = %v, want a run error", err)
	}
}

// BenchmarkProbe measures Probe on an H.264/AAC MP4, the engine's most
// common output, which the native reader handles.
func BenchmarkProbe(b *testing.B) {
	benchmarkProbe(b, &Prober{})
}

// BenchmarkProbeFFprobe measures the same probe through ffprobe, for
// comparison.
func BenchmarkProbeFFprobe(b *testing.B) {
	benchmarkProbe(b, &Prober{ffprobeOnly: true})
}

func benchmarkProbe(b *testing.B, prober *Prober) {
	requireFFmpeg(b)
	path := makeMedia(b, b.TempDir(), "bench.mp4", join(videoSource, audioSource,
		[]string{"-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"})...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := prober.Probe(ctx, path); err != nil {
			b.Fatal(err)
		}
	}
}

func assertFacts(t *testing.T, info Info, want expect) {
	t.Helper()
	strs := []struct{ name, got, want string }{
		{"file_type", info.FileType, want.fileType},
		{"file_format", info.FileFormat, want.fileFormat},
		{"mime_type", info.MimeType, want.mimeType},
		{"codec", info.Codec, want.codec},
		{"pixel_format", info.PixelFormat, want.pixelFormat},
	}
	for _, s := range strs {
		if s.got != s.want {
			t.Errorf("%s = %q, want %q", s.name, s.got, s.want)
		}
	}
	ints := []struct {
		name string
		got  *int
		want int
	}{
		{"width", info.Width, want.width},
		{"height", info.Height, want.height},
		{"sample_rate", info.SampleRate, want.sampleRate},
		{"channels", info.Channels, want.channels},
	}
	for _, i := range ints {
		switch {
		case i.want == 0 && i.got != nil:
			t.Errorf("%s = %d, want absent", i.name, *i.got)
		case i.want != 0 && (i.got == nil || *i.got != i.want):
			t.Errorf("%s = %s, want %d", i.name, intText(i.got), i.want)
		}
	}
	floats := []struct {
		name      string
		got       *float64
		want, tol float64
	}{
		{"frame_rate", info.FrameRate, want.frameRate, 0.001},
		{"duration", info.Duration, want.duration, 0.1},
	}
	for _, f := range floats {
		switch {
		case f.want == 0 && f.got != nil:
			t.Errorf("%s = %v, want absent", f.name, *f.got)
		case f.want != 0 && (f.got == nil || math.Abs(*f.got-f.want) > f.tol):
			t.Errorf("%s = %s, want %v ± %v", f.name, floatText(f.got), f.want, f.tol)
		}
	}
	bitrates := []struct {
		name string
		got  *float64
		want bool
	}{
		{"bitrate_video_kb", info.BitrateVideoKb, want.videoBitrate},
		{"bitrate_audio_kb", info.BitrateAudioKb, want.audioBitrate},
	}
	for _, b := range bitrates {
		if b.want && (b.got == nil || *b.got <= 0) {
			t.Errorf("%s = %s, want > 0", b.name, floatText(b.got))
		}
		if !b.want && b.got != nil {
			t.Errorf("%s = %v, want absent", b.name, *b.got)
		}
	}
}

func intText(v *int) string {
	if v == nil {
		return "absent"
	}
	return strconv.Itoa(*v)
}

func floatText(v *float64) string {
	if v == nil {
		return "absent"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}
