package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// mp4Case is one generated MP4-family file. mustRead marks the common
// outputs the native reader has to handle itself; for the others a decline
// (leaving the file to ffprobe) is acceptable and is reported.
type mp4Case struct {
	name     string
	args     []string
	mustRead bool
	// needs names an encoder or muxer option the case depends on; the case
	// is skipped when this ffmpeg lacks it.
	needs string
}

var (
	tone       = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	toneLow    = []string{"-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"}
	card       = []string{"-f", "lavfi", "-i", "testsrc=size=320x180:rate=25"}
	x264Fast   = []string{"-c:v", "libx264", "-preset", "ultrafast"}
	x264       = []string{"-c:v", "libx264", "-preset", "veryfast"}
	aacStereo  = []string{"-c:a", "aac", "-ac", "2"}
	twoSeconds = []string{"-t", "2"}
)

func mp4Cases() []mp4Case {
	return []mp4Case{
		{name: "h264_aac.mp4", mustRead: true, args: join(card, tone, twoSeconds, x264, []string{"-pix_fmt", "yuv420p"}, aacStereo)},
		{name: "h264_aac_faststart.mp4", mustRead: true, args: join(card, tone, twoSeconds, x264, []string{"-pix_fmt", "yuv420p", "-movflags", "+faststart"}, aacStereo)},
		{name: "h264_aac.mov", mustRead: true, args: join(card, tone, twoSeconds, x264, []string{"-pix_fmt", "yuv420p", "-c:a", "aac"})},
		{name: "h264_aac_faststart.mov", mustRead: true, args: join(card, tone, twoSeconds, x264, []string{"-pix_fmt", "yuv420p", "-movflags", "+faststart", "-c:a", "aac"})},
		{name: "aac_stereo.m4a", mustRead: true, args: join(tone, twoSeconds, aacStereo)},
		{name: "aac_mono.m4a", mustRead: true, args: join(toneLow, twoSeconds, []string{"-c:a", "aac", "-b:a", "64k"})},
		{name: "aac_5.1.mp4", mustRead: true, args: join(card, tone, twoSeconds, x264Fast, []string{"-c:a", "aac", "-ac", "6"})},
		{name: "aac_only.mp4", mustRead: true, args: join(tone, twoSeconds, aacStereo)},
		{name: "video_only.mp4", mustRead: true, args: join(card, twoSeconds, x264)},
		{name: "h264_yuv444p.mp4", mustRead: true, args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv444p"})},
		{name: "h264_yuv422p.mp4", mustRead: true, args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv422p"})},
		{name: "h264_yuvj420p.mp4", mustRead: true, args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuvj420p"})},
		{name: "h264_10bit.mp4", mustRead: true, needs: "yuv420p10le", args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv420p10le"})},
		{name: "h264_ntsc.mp4", mustRead: true, args: join([]string{"-f", "lavfi", "-i", "testsrc=size=320x180:rate=30000/1001"}, toneLow, twoSeconds, x264Fast, []string{"-c:a", "aac"})},
		{name: "h264_1fps.mp4", mustRead: true, args: join([]string{"-f", "lavfi", "-i", "testsrc=size=320x180:rate=1"}, []string{"-t", "5"}, x264Fast)},
		{name: "h264_322x180.mp4", mustRead: true, args: join([]string{"-f", "lavfi", "-i", "testsrc=size=322x180:rate=25"}, tone, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv420p"}, aacStereo)},
		// FFmpeg 5.1's muxer has no option for a display matrix, so the
		// rotated files get theirs patched into the track header.
		{name: "h264_rotated_90.mp4", mustRead: true, args: []string{"rotate", "0", "65536", "-65536", "0"}},
		{name: "h264_rotated_270.mp4", mustRead: true, args: []string{"rotate", "0", "-65536", "65536", "0"}},
		{name: "h264_rotated_180.mp4", mustRead: true, args: []string{"rotate", "-65536", "0", "0", "-65536"}},
		{name: "h264_mirrored.mp4", args: []string{"rotate", "-65536", "0", "0", "65536"}},
		{name: "h264_sheared.mp4", args: []string{"rotate", "65536", "32768", "0", "65536"}},
		{name: "h264_two_audio.mp4", mustRead: true, args: join(card, tone, toneLow, twoSeconds, x264Fast, []string{"-map", "0", "-map", "1", "-map", "2", "-c:a", "aac"})},
		{name: "h264_aac.3gp", mustRead: true, args: join(card, tone, twoSeconds, x264Fast, []string{"-c:a", "aac", "-ar", "44100"})},
		{name: "hevc.mp4", mustRead: true, needs: "libx265", args: join(card, tone, twoSeconds, []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1"}, aacStereo)},
		{name: "hevc_hev1.mp4", mustRead: true, needs: "libx265", args: join(card, twoSeconds, []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p"})},
		{name: "h264_bpyramid.mp4", mustRead: true, args: join(card, twoSeconds, x264, []string{"-pix_fmt", "yuv420p", "-x264-params", "bframes=3:b-pyramid=normal"})},
		{name: "hevc_10bit.mp4", needs: "libx265", args: join(card, twoSeconds, []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le"})},
		{name: "mpeg4.mp4", args: join(card, tone, twoSeconds, []string{"-c:v", "mpeg4"}, aacStereo)},
		{name: "av1.mp4", needs: "libsvtav1", args: join(card, twoSeconds, []string{"-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "lp=1"})},
		{name: "vp9.mp4", needs: "libvpx-vp9", args: join(card, tone, twoSeconds, []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"}, []string{"-c:a", "libopus"})},
		{name: "mp3.mp4", needs: "libmp3lame", args: join(card, tone, twoSeconds, x264Fast, []string{"-c:a", "libmp3lame", "-b:a", "128k"})},
		{name: "opus.mp4", needs: "libopus", args: join(tone, twoSeconds, []string{"-c:a", "libopus"})},
		{name: "alac.m4a", args: join(tone, twoSeconds, []string{"-c:a", "alac"})},
		{name: "flac.mp4", args: join(tone, twoSeconds, []string{"-c:a", "flac", "-strict", "-2"})},
		{name: "ac3.mp4", args: join(card, tone, twoSeconds, x264Fast, []string{"-c:a", "ac3"})},
		{name: "mjpeg.mov", args: join(card, twoSeconds, []string{"-c:v", "mjpeg", "-q:v", "5"})},
		{name: "png.mov", args: join([]string{"-f", "lavfi", "-i", "testsrc=size=160x90:rate=5"}, []string{"-t", "1", "-c:v", "png"})},
		{name: "cover_art.m4a", mustRead: true, args: []string{"cover"}},
		{name: "chapters.mp4", mustRead: true, args: []string{"chapters"}},
		{name: "timecode.mov", mustRead: true, args: join(card, tone, twoSeconds, x264Fast, []string{"-c:a", "aac", "-timecode", "01:00:00:00"})},
		{name: "h264_full_range.mp4", args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv420p", "-color_range", "pc"})},
		{name: "h264_yuvj444p.mp4", args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuvj444p"})},
		{name: "h264_gray.mp4", args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "gray"})},
		{name: "h264_interlaced.mp4", args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv420p", "-flags", "+ildct+ilme"})},
		{name: "h264_bt709.mov", args: join(card, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"})},
		{name: "hevc_yuv444p.mp4", needs: "libx265", args: join(card, twoSeconds, []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv444p"})},
		{name: "hevc_322x180.mp4", needs: "libx265", args: join([]string{"-f", "lavfi", "-i", "testsrc=size=322x180:rate=25"}, twoSeconds, []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p"})},
		{name: "hevc_full_range.mp4", needs: "libx265", args: join(card, twoSeconds, []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:range=full", "-pix_fmt", "yuvj420p"})},
		{name: "av1_aom.mp4", needs: "libaom-av1", args: join([]string{"-f", "lavfi", "-i", "testsrc=size=160x90:rate=10"}, []string{"-t", "1", "-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1", "-pix_fmt", "yuv420p"})},
		{name: "av1_gbrp.mp4", needs: "libaom-av1", args: join([]string{"-f", "lavfi", "-i", "testsrc=size=160x90:rate=10"}, []string{"-t", "1", "-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1"})},
		{name: "vp9_yuv444p.mp4", needs: "libvpx-vp9", args: join(card, twoSeconds, []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv444p"})},
		{name: "vp9_10bit.mp4", needs: "libvpx-vp9", args: join(card, twoSeconds, []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p10le"})},
		{name: "mpeg4_bframes.mp4", args: join(card, twoSeconds, []string{"-c:v", "mpeg4", "-bf", "2"})},
		{name: "mjpeg_yuvj422p.mov", args: join(card, twoSeconds, []string{"-c:v", "mjpeg", "-pix_fmt", "yuvj422p"})},
		{name: "aac_22050.m4a", args: join(tone, twoSeconds, []string{"-c:a", "aac", "-ar", "22050"})},
		{name: "aac_7.1.m4a", args: join(tone, twoSeconds, []string{"-c:a", "aac", "-ac", "8"})},
		{name: "mp3_vbr.mp4", needs: "libmp3lame", args: join(tone, twoSeconds, []string{"-c:a", "libmp3lame", "-q:a", "4"})},
		{name: "mp3.mov", needs: "libmp3lame", args: join(tone, twoSeconds, []string{"-c:a", "libmp3lame"})},
		{name: "eac3.mp4", args: join(tone, twoSeconds, []string{"-c:a", "eac3"})},
		{name: "opus_5.1.mp4", needs: "libopus", args: join(tone, twoSeconds, []string{"-c:a", "libopus", "-ac", "6"})},
		{name: "pcm.mov", args: join(card, tone, twoSeconds, x264Fast, []string{"-c:a", "pcm_s16le"})},
		{name: "alac.mov", args: join(tone, twoSeconds, []string{"-c:a", "alac"})},
		{name: "aac.3g2", args: join(tone, twoSeconds, []string{"-c:a", "aac", "-ar", "44100"})},
		{name: "subtitles.mp4", args: []string{"subtitles"}},
		{name: "video.m4v", mustRead: true, args: join(card, twoSeconds, x264Fast)},
		{name: "h264_baseline.mp4", mustRead: true, args: join(card, tone, twoSeconds, x264Fast, []string{"-pix_fmt", "yuv420p", "-profile:v", "baseline"}, aacStereo)},
		{name: "h264_1080p.mp4", mustRead: true, args: join([]string{"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=50"}, []string{"-t", "0.5"}, x264Fast, []string{"-pix_fmt", "yuv420p"})},
		{name: "h264_short_gop.mp4", mustRead: true, args: join(card, twoSeconds, x264, []string{"-pix_fmt", "yuv420p", "-g", "3"})},
		{name: "h264_two_video.mp4", args: join(card, []string{"-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"}, twoSeconds, x264Fast, []string{"-map", "0", "-map", "1"})},
		{name: "h264_second_audio_default.mp4", args: join(card, tone, toneLow, twoSeconds, x264Fast, []string{"-map", "0", "-map", "1", "-map", "2", "-c:a", "aac", "-disposition:a:0", "0", "-disposition:a:1", "default"})},
		{name: "h264_delayed_audio.mp4", args: join(card, []string{"-itsoffset", "0.5"}, tone, twoSeconds, x264Fast, aacStereo)},
		{name: "fragmented.mp4", args: join(card, tone, twoSeconds, x264Fast, aacStereo, []string{"-movflags", "frag_keyframe+empty_moov"})},
		{name: "metadata.mp4", mustRead: true, args: join(card, tone, twoSeconds, x264Fast, aacStereo, []string{"-metadata", "title=Title", "-metadata", "artist=Someone", "-metadata:s:a", "language=fra"})},
		{name: "mp4_named.bin", mustRead: true, args: join(card, tone, twoSeconds, x264Fast, aacStereo, []string{"-f", "mp4"})},
	}
}

// ffmpegHas reports whether ffmpeg lists an encoder (or a pixel format of
// libx264) by name.
var ffmpegFeatures struct {
	once sync.Once
	text string
}

func ffmpegHas(name string) bool {
	ffmpegFeatures.once.Do(func() {
		var b strings.Builder
		for _, args := range [][]string{{"-hide_banner", "-encoders"}, {"-hide_banner", "-h", "encoder=libx264"}} {
			out, _ := exec.Command("ffmpeg", args...).CombinedOutput()
			b.Write(out)
		}
		ffmpegFeatures.text = b.String()
	})
	return strings.Contains(ffmpegFeatures.text, " "+name)
}

// makeMP4Case writes one case into dir.
func makeMP4Case(t *testing.T, dir string, c mp4Case) string {
	t.Helper()
	switch c.args[0] {
	case "rotate":
		path := makeMedia(t, dir, c.name, join(card, tone, twoSeconds, x264Fast, aacStereo)...)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(data, []byte("tkhd"))
		if i < 0 || data[i+4] != 0 {
			t.Fatal("no version 0 tkhd to patch")
		}
		matrix := data[i+4+40:]
		for j, v := range c.args[1:] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			binary.BigEndian.PutUint32(matrix[4*([]int{0, 1, 3, 4}[j]):], uint32(int32(n)))
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	case "subtitles":
		srt := filepath.Join(t.TempDir(), "subs.srt")
		if err := os.WriteFile(srt, []byte("1\n00:00:00,000 --> 00:00:01,000\nHello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return makeMedia(t, dir, c.name, join(card, tone, []string{"-i", srt}, twoSeconds,
			[]string{"-map", "0", "-map", "1", "-map", "2"}, x264Fast, aacStereo, []string{"-c:s", "mov_text"})...)
	case "cover":
		sub := t.TempDir()
		cover := makeMedia(t, sub, "cover.png", join(card, []string{"-frames:v", "1"})...)
		return makeMedia(t, dir, c.name, join(tone, []string{"-i", cover}, twoSeconds,
			[]string{"-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic"})...)
	case "chapters":
		meta := filepath.Join(t.TempDir(), "chapters.txt")
		text := ";FFMETADATA1\ntitle=Chaptered\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Two\n"
		if err := os.WriteFile(meta, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return makeMedia(t, dir, c.name, join(card, tone, []string{"-i", meta}, twoSeconds,
			[]string{"-map", "0", "-map", "1", "-map_chapters", "2"}, x264Fast, aacStereo)...)
	}
	return makeMedia(t, dir, c.name, c.args...)
}

func infoJSON(t *testing.T, info Info) string {
	t.Helper()
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestNativeMP4MatchesFFprobe is the differential test: for every generated
// file the native reader either declines or returns exactly the facts the
// ffprobe path returns.
func TestNativeMP4MatchesFFprobe(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	var mu sync.Mutex
	var declined, native []string
	t.Run("cases", func(t *testing.T) {
		for _, c := range mp4Cases() {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				if c.needs != "" && !ffmpegHas(c.needs) {
					t.Skipf("skipping: this ffmpeg has no %s", c.needs)
				}
				path := makeMP4Case(t, dir, c)
				want, err := (&Prober{ffprobeOnly: true}).Probe(context.Background(), path)
				if err != nil {
					t.Fatalf("ffprobe path: %v", err)
				}
				info, ok := probeMP4File(path, filepath.Base(path))
				mu.Lock()
				if ok {
					native = append(native, c.name)
				} else {
					declined = append(declined, c.name)
				}
				mu.Unlock()
				if !ok {
					if c.mustRead {
						t.Errorf("native reader declined %s, a common output it must read", c.name)
					}
					return
				}
				if got, want := infoJSON(t, info), infoJSON(t, want); got != want {
					t.Errorf("native facts differ from ffprobe's\nnative:  %s\nffprobe: %s", got, want)
				}
				// Probe itself takes the native path and returns the same.
				probed, err := (&Prober{}).Probe(context.Background(), path)
				if err != nil || infoJSON(t, probed) != infoJSON(t, want) {
					t.Errorf("Probe = %s, %v", infoJSON(t, probed), err)
				}
			})
		}
	})
	sort.Strings(native)
	sort.Strings(declined)
	t.Logf("read natively (%d): %s", len(native), strings.Join(native, ", "))
	t.Logf("left to ffprobe (%d): %s", len(declined), strings.Join(declined, ", "))
	// Where the reader gave up, for whoever extends it.
	for _, name := range declined {
		var where []string
		trace := func(w string) { where = append(where, w) }
		mp4Trace.Store(&trace)
		probeMP4File(filepath.Join(dir, name), name)
		mp4Trace.Store(nil)
		t.Logf("  %s: declined at %s", name, strings.Join(where, " "))
	}
}

// TestNativeMP4DeclinesDerivedFiles covers files cut or altered from a
// valid one: the reader must decline or agree with ffprobe, never differ.
func TestNativeMP4DeclinesDerivedFiles(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	whole, err := os.ReadFile(makeMedia(t, dir, "whole.mp4", join(card, tone, twoSeconds, x264Fast, aacStereo)...))
	if err != nil {
		t.Fatal(err)
	}
	faststart, err := os.ReadFile(makeMedia(t, dir, "fast.mp4", join(card, tone, twoSeconds, x264Fast, aacStereo, []string{"-movflags", "+faststart"})...))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"first-half.mp4":            whole[:len(whole)/2],
		"missing-last-byte.mp4":     whole[:len(whole)-1],
		"faststart-first-half.mp4":  faststart[:len(faststart)/2],
		"faststart-cut-in-moov.mp4": faststart[:200],
		"trailing-garbage.mp4":      append(append([]byte{}, whole...), []byte("garbage!garbage!")...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			info, ok := probeMP4File(path, name)
			if !ok {
				return
			}
			want, err := (&Prober{ffprobeOnly: true}).Probe(context.Background(), path)
			if err != nil {
				t.Fatalf("native reader accepted a file ffprobe rejects (%v): %s", err, infoJSON(t, info))
			}
			if got, want := infoJSON(t, info), infoJSON(t, want); got != want {
				t.Errorf("native:  %s\nffprobe: %s", got, want)
			}
		})
	}
}

func TestAVReduce(t *testing.T) {
	cases := []struct{ num, den, wantNum, wantDen uint64 }{
		{12800 * 50, 25600, 25, 1},
		{30000 * 60, 60060, 30000, 1001},
		{1 << 40, 3, 0, 0}, // needs approximation: checked for sanity only
	}
	for _, c := range cases {
		num, den, ok := avReduce(c.num, c.den, 1<<31-1)
		if !ok {
			t.Errorf("avReduce(%d, %d) failed", c.num, c.den)
			continue
		}
		if c.wantDen != 0 && (num != c.wantNum || den != c.wantDen) {
			t.Errorf("avReduce(%d, %d) = %d/%d, want %d/%d", c.num, c.den, num, den, c.wantNum, c.wantDen)
		}
		if num > 1<<31-1 || den > 1<<31-1 {
			t.Errorf("avReduce(%d, %d) = %d/%d exceeds the limit", c.num, c.den, num, den)
		}
	}
	if _, _, ok := avReduce(0, 1, 100); ok {
		t.Error("avReduce(0, 1) succeeded")
	}
}

func TestRescaleRound(t *testing.T) {
	cases := []struct{ a, b, c, want uint64 }{
		{2000, 1000000, 1000, 2000000},
		{1, 1000000, 3, 333333},
		{2, 1000000, 3, 666667},
		{1, 1, 2, 1}, // halves round up
	}
	for _, c := range cases {
		if got, ok := rescaleRound(c.a, c.b, c.c); !ok || got != c.want {
			t.Errorf("rescaleRound(%d, %d, %d) = %d, %v; want %d", c.a, c.b, c.c, got, ok, c.want)
		}
	}
	if _, ok := rescaleRound(1<<63, 1<<63, 1); ok {
		t.Error("overflow not detected")
	}
}
