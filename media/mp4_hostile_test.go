package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// box builds an ISO base media box.
func box(kind string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(out, uint32(8+len(body)))
	copy(out[4:], kind)
	return append(out, body...)
}

// rawBox builds a box header with an arbitrary size field.
func rawBox(size uint32, kind string, payload ...[]byte) []byte {
	out := make([]byte, 8)
	binary.BigEndian.PutUint32(out, size)
	copy(out[4:], kind)
	return append(out, bytes.Join(payload, nil)...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

var ftypBox = box("ftyp", []byte("isom"), u32(512), []byte("isomiso2avc1mp41"))

// nestedBoxes builds depth boxes of kind, each holding prefix and the next.
func nestedBoxes(kind string, prefix []byte, depth int) []byte {
	level := 8 + len(prefix)
	out := make([]byte, 0, level*depth)
	for i := 0; i < depth; i++ {
		out = binary.BigEndian.AppendUint32(out, uint32(level*(depth-i)))
		out = append(out, kind...)
		out = append(out, prefix...)
	}
	return out
}

// inStbl wraps sample table boxes in ftyp/moov/trak/mdia/minf/stbl.
func inStbl(children ...[]byte) []byte {
	return append(append([]byte{}, ftypBox...), box("moov", box("trak", box("mdia", box("minf", box("stbl", children...)))))...)
}

// hostileInputs are files built to make a careless reader allocate, loop or
// crash.
func hostileInputs() map[string][]byte {
	inputs := map[string][]byte{
		"empty":                      {},
		"ftyp only":                  ftypBox,
		"moov claims 4 GiB":          append(append([]byte{}, ftypBox...), rawBox(0xffffffff, "moov", box("mvhd", make([]byte, 100)))...),
		"moov 64-bit 2^62":           append(append([]byte{}, ftypBox...), append(rawBox(1, "moov"), binary.BigEndian.AppendUint64(nil, 1<<62)...)...),
		"size below header":          append(append([]byte{}, ftypBox...), rawBox(4, "moov")...),
		"64-bit size below 16":       append(append([]byte{}, ftypBox...), append(rawBox(1, "moov"), binary.BigEndian.AppendUint64(nil, 8)...)...),
		"zero-size moov":             append(append([]byte{}, ftypBox...), rawBox(0, "moov", rawBox(0, "udta", rawBox(0, "udta")))...),
		"child larger than box":      append(append([]byte{}, ftypBox...), box("moov", rawBox(1000, "trak"))...),
		"stts claims 2^32-1 entries": inStbl(box("stts", u32(0), u32(0xffffffff))),
		"stsz claims 10^9 samples":   inStbl(box("stsz", u32(0), u32(4), u32(1e9))),
		"stsc claims 2^30 entries":   inStbl(box("stsc", u32(0), u32(1<<30))),
		"stsd claims 2^31 bytes":     inStbl(box("stsd", u32(0), u32(1), rawBox(0x7fffffff, "avc1"))),
		"stsd with 1024 entries":     inStbl(box("stsd", u32(0), u32(1024), bytes.Repeat(box("avc1", make([]byte, 8)), 1024))),
	}

	// Nesting: every level is a box FFmpeg would descend into.
	inputs["udta nested 100000 deep"] = append(append([]byte{}, ftypBox...), box("moov", nestedBoxes("udta", nil, 100000))...)
	inputs["meta nested 2000 deep"] = append(append([]byte{}, ftypBox...), box("moov", nestedBoxes("meta", u32(0), 2000))...)
	inputs["trak nested 1000 deep"] = append(append([]byte{}, ftypBox...), box("moov", nestedBoxes("trak", nil, 1000))...)

	// A million empty boxes.
	empties := bytes.Repeat(box("free"), 1<<20)
	inputs["a million empty boxes"] = append(append([]byte{}, ftypBox...), box("moov", empties)...)
	inputs["a million top-level boxes"] = append(append([]byte{}, ftypBox...), bytes.Repeat(box("skip"), 1<<20)...)

	// Random bytes behind a valid ftyp, and inside a valid-looking moov.
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		junk := make([]byte, 64+rng.Intn(4096))
		rng.Read(junk)
		inputs["random after ftyp "+itoa(i)] = append(append([]byte{}, ftypBox...), junk...)
		inputs["random in moov "+itoa(i)] = append(append([]byte{}, ftypBox...), box("moov", box("trak", junk))...)
	}
	return inputs
}

// readMP4Bounded runs the reader on data and fails the test if it panics,
// runs long or allocates much.
func readMP4Bounded(t *testing.T, name string, data []byte) (Info, error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	var info Info
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: panic: %v", name, r)
			}
		}()
		info, err = readMP4(bytes.NewReader(data), int64(len(data)), "hostile.mp4")
	}()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if elapsed > 2*time.Second {
		t.Errorf("%s: took %s", name, elapsed)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 4<<20 {
		t.Errorf("%s: allocated %d KiB", name, allocated>>10)
	}
	return info, err
}

func TestReadMP4HostileInputs(t *testing.T) {
	for name, data := range hostileInputs() {
		if _, err := readMP4Bounded(t, name, data); err == nil {
			t.Errorf("%s: the reader accepted a hostile file", name)
		}
	}
}

// Every prefix and many corruptions of a real file: no panic, bounded
// time and memory, and an accepted file is never one the reader should have
// refused (the derived-file test compares a few with ffprobe).
func TestReadMP4TruncatedAndCorrupted(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"fast.mp4", join(card, tone, []string{"-t", "1"}, x264Fast, aacStereo, []string{"-movflags", "+faststart"})},
		{"tail.mov", join(card, tone, []string{"-t", "1"}, x264Fast, []string{"-c:a", "aac"})},
	} {
		data, err := os.ReadFile(makeMedia(t, dir, c.name, c.args...))
		if err != nil {
			t.Fatal(err)
		}
		step := max(1, len(data)/400)
		for cut := 0; cut < len(data); cut += step {
			readMP4Bounded(t, c.name+" cut", data[:cut])
		}
		rng := rand.New(rand.NewSource(2))
		for i := 0; i < 300; i++ {
			corrupt := append([]byte{}, data...)
			for j := 0; j < 1+rng.Intn(8); j++ {
				corrupt[rng.Intn(len(corrupt))] = byte(rng.Intn(256))
			}
			readMP4Bounded(t, c.name+" corrupt", corrupt)
		}
	}
}

// A normal probe stays small too.
func TestReadMP4AllocatesLittle(t *testing.T) {
	requireFFmpeg(t)
	path := makeMedia(t, t.TempDir(), "clip.mp4", join(card, tone, twoSeconds, x264Fast, aacStereo)...)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readMP4Bounded(t, "clip.mp4", data); err != nil {
		t.Fatalf("declined: %v", err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, ok := probeMP4File(path, "clip.mp4"); !ok {
			t.Fatal("declined")
		}
	})
	if allocs > 400 {
		t.Errorf("%v allocations per probe", allocs)
	}
	t.Logf("%v allocations per probe", allocs)
}

// FuzzReadMP4 feeds arbitrary bytes to the reader: it must not panic and
// must finish quickly whatever the input.
func FuzzReadMP4(f *testing.F) {
	for _, data := range hostileInputs() {
		if len(data) <= 64<<10 {
			f.Add(data)
		}
	}
	if ffmpegAvailable() {
		dir := f.TempDir()
		for i, args := range [][]string{
			join(card, tone, []string{"-t", "0.5"}, x264Fast, aacStereo, []string{"-movflags", "+faststart"}),
			join(card, tone, []string{"-t", "0.5"}, x264Fast, []string{"-c:a", "aac", "-movflags", "+faststart", "-f", "mov"}),
			join(tone, []string{"-t", "0.5", "-c:a", "aac", "-f", "ipod", "-movflags", "+faststart"}),
			join(tone, []string{"-t", "0.5", "-c:a", "alac", "-f", "ipod", "-movflags", "+faststart"}),
			join(card, []string{"-t", "0.5", "-c:v", "mpeg4", "-movflags", "+faststart"}),
		} {
			path := filepath.Join(dir, "seed"+itoa(i)+".mp4")
			if err := makeMediaQuiet(path, args...); err != nil {
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			f.Add(data[:min(len(data), 8<<10)])
			if len(data) <= 64<<10 {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		readMP4(bytes.NewReader(data), int64(len(data)), "fuzz.mp4")
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Fatalf("took %s on %d bytes", elapsed, len(data))
		}
	})
}

func ffmpegAvailable() bool {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return true
}

// makeMediaQuiet is makeMedia without a testing.TB, for fuzz seeds.
func makeMediaQuiet(out string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	return exec.CommandContext(ctx, "ffmpeg", append(argv, out)...).Run()
}

// FuzzCodecHeaders feeds arbitrary bytes to every codec header parser the
// reader uses: none may panic or loop.
func FuzzCodecHeaders(f *testing.F) {
	f.Add([]byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10})
	f.Add([]byte{0x01, 0x64, 0x00, 0x0c, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x0c, 0x01, 0x00, 0x02, 0x68, 0xeb})
	f.Add([]byte{0x11, 0x88, 0x56, 0xe5, 0x00})
	f.Add([]byte{0x82, 0x49, 0x83, 0x42, 0x00, 0x13, 0xf0, 0x0b, 0x38})
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00IDAT"))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01})
	f.Add([]byte{0x0b, 0x77, 0x00, 0x00, 0x14, 0x40, 0x20, 0x00})
	f.Add([]byte{0x00, 0x00, 0x01, 0x20, 0x00, 0x84, 0x5d, 0x4c, 0x28, 0x50, 0x20, 0xf0, 0xa2, 0x1f})
	f.Fuzz(func(t *testing.T, data []byte) {
		parseH264SPS(data)
		h264PPSOK(data, map[uint32]*h264SPS{0: {}})
		h264Facts(data, colourInfo{matrix: 2}, 320, 180)
		hevcFacts(data)
		parseHEVCSPS(data)
		parseHEVCVPS(data)
		hevcSEIOK(append([]byte{0, 0}, data...))
		parseAV1Sequence(data)
		if len(data) > 0 {
			half := len(data) / 2
			av1Facts(data[:half], data[half:])
		}
		vp9Facts(data)
		mpeg4VOLSize(data)
		mjpegFacts(data)
		pngFacts(data)
		aacConfig(data)
		aacFirstElementOK(data, 2)
		mp3Header(data)
		ac3Header(data)
		eac3Header(data)
		opusConfig(data)
		flacStreamInfo(data)
		flacFrameAgrees(data, 48000, 2)
		alacConfig(data)
		esdsConfig(data)
		movProbeScore(data)
		rotation([9]int32{int32(len(data)), 1, 0, 0, 1, 0, 0, 0, 1 << 30})
	})
}
