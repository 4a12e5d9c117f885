package engine

import (
	"math"
	"strings"
	"testing"
)

func TestPlannedSeconds(t *testing.T) {
	durations := map[string]float64{"in/a.mp4": 20, "in/b.mp3": 8, "out/mid.mp4": 12}
	lookup := func(path string) (float64, bool, bool) {
		if path == "in/logo.png" {
			return 0, true, true
		}
		d, ok := durations[path]
		return d, false, ok
	}
	outs := map[string]bool{"out/x.mp4": true, "out/y.mp4": true, "out/mid.mp4": true}
	for _, tc := range []struct {
		argv string
		want float64 // 0: unknown
	}{
		{"-i in/a.mp4 -c:v libx264 out/x.mp4", 20},
		{"-i in/a.mp4 -i in/b.mp3 -map 0:v -map 1:a out/x.mp4", 20},
		{"-i in/a.mp4 -i in/b.mp3 -shortest out/x.mp4", 8},
		{"-ss 5 -i in/a.mp4 out/x.mp4", 15},
		{"-ss 00:00:05.5 -t 3 -i in/a.mp4 out/x.mp4", 3},
		{"-ss 5 -to 9 -i in/a.mp4 out/x.mp4", 4},
		{"-sseof -4 -i in/a.mp4 out/x.mp4", 4},
		{"-i in/a.mp4 -t 2500ms out/x.mp4", 2.5},
		{"-i in/a.mp4 -ss 15 out/x.mp4", 5},
		{"-i in/a.mp4 -t 4 out/x.mp4 -t 6 out/y.mp4", 6},
		{"-i in/a.mp4 -i in/logo.png -filter_complex [0:v][1:v]overlay=10:10 out/x.mp4", 20},
		{"-i out/mid.mp4 out/x.mp4", 12},
		{"-i in/a.mp4 -f null -", 20},
		// Unknown: never a guess.
		{"-f lavfi -i testsrc=duration=30 out/x.mp4", 0},
		{"-f lavfi -i testsrc=duration=30 -t 10 out/x.mp4", 10},
		{"-stream_loop 2 -i in/a.mp4 out/x.mp4", 0},
		{"-loop 1 -i in/logo.png out/x.mp4", 0},
		{"-loop 1 -i in/logo.png -t 5 out/x.mp4", 5},
		{"-i in/a.mp4 -vf setpts=0.5*PTS out/x.mp4", 0},
		{"-i in/a.mp4 -af atempo=2 out/x.mp4", 0},
		{"-i in/a.mp4 -filter_complex [0:v]trim=0:5[v] -map [v] out/x.mp4", 0},
		{"-i in/a.mp4 -frames:v 1 out/x.mp4", 0},
		{"-i in/unknown.mkv out/x.mp4", 0},
		{"-i in/logo.png out/x.mp4", 0},
		{"-i in/a.mp4 -t bogus out/x.mp4", 0},
	} {
		got, ok := plannedSeconds(strings.Fields(tc.argv), outs, lookup)
		if tc.want == 0 {
			if ok {
				t.Errorf("%s: planned %v s, want unknown", tc.argv, got)
			}
			continue
		}
		if !ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: planned %v (known %v), want %v", tc.argv, got, ok, tc.want)
		}
	}
}

func TestParseFFmpegTime(t *testing.T) {
	for in, want := range map[string]float64{
		"5": 5, "1.5": 1.5, "01:02": 62, "1:02:03.5": 3723.5, "-4": -4, "250ms": 0.25, "100us": 1e-4, "3s": 3,
	} {
		if got, ok := parseFFmpegTime(in); !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("parseFFmpegTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "abc", "1:2:3:4", "inf", "NaN"} {
		if got, ok := parseFFmpegTime(bad); ok {
			t.Errorf("parseFFmpegTime(%q) = %v, want an error", bad, got)
		}
	}
}

// ffmpeg's -progress blocks arrive in arbitrary pieces; only out_time_us
// (and its misnamed twin out_time_ms) count, N/A is skipped.
func TestProgressParser(t *testing.T) {
	var got []float64
	p := &progressParser{observe: func(s float64) { got = append(got, s) }}
	out := "frame=0\nout_time_us=N/A\nprogress=continue\nframe=12\nout_time_us=1500000\nout_time_ms=1500000\nout_time=00:00:01.500000\nspeed=1.01x\nprogress=continue\nout_time_us=3000000\nprogress=end\n"
	for i := 0; i < len(out); i += 7 {
		p.Write([]byte(out[i:min(i+7, len(out))]))
	}
	want := []float64{1.5, 1.5, 3}
	if len(got) != len(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("observed %v, want %v", got, want)
		}
	}
	// A line with no end never grows without bound.
	p.Write([]byte(strings.Repeat("x", 10*maxProgressLine)))
	if len(p.line) > maxProgressLine {
		t.Errorf("kept %d bytes of an endless line", len(p.line))
	}
}

func TestChangesTiming(t *testing.T) {
	for graph, want := range map[string]bool{
		"scale=640:-2":                                false,
		"[0:v]scale=640:-2[v];[v][1:v]overlay":        false,
		"scale=320:-1,setpts=0.5*PTS":                 true,
		"[0:a]atempo=1.5[a]":                          true,
		"[0:v][1:v]concat=n=2:v=1:a=0[out]":           true,
		"drawtext=text='trim':fontsize=12":            false,
		"subtitles=in/subs.srt,fps=30,format=yuv420p": false,
	} {
		if got := changesTiming(graph); got != want {
			t.Errorf("changesTiming(%q) = %v, want %v", graph, got, want)
		}
	}
}
