package template_test

import (
	"testing"

	"github.com/openrender/openrender/template"
)

func TestImageSequenceMatch(t *testing.T) {
	seq, ok := template.ParseImageSequence("frame_%03d.jpg")
	if !ok || seq != (template.ImageSequence{Prefix: "frame_", Width: 3, Suffix: ".jpg"}) {
		t.Fatalf("ParseImageSequence: %+v %v", seq, ok)
	}
	for name, want := range map[string]int64{
		"frame_001.jpg": 1, "frame_000.jpg": 0, "frame_1234.jpg": 1234,
		"frame_0001.jpg": -1, "frame_01.jpg": -1, "frame_1.jpg": -1, "frame_.jpg": -1, "frame_00a.jpg": -1,
		"frame_001.jpeg": -1, "xframe_001.jpg": -1, "frame_-01.jpg": -1, "frame_%03d.jpg": -1,
		"frame_99999999999999999999.jpg": -1,
	} {
		n, ok := seq.Match(name)
		if (want < 0) == ok || (ok && int64(n) != want) {
			t.Errorf("Match(%q) = %d %v, want %d", name, n, ok, want)
		}
	}
	plain, _ := template.ParseImageSequence("%d.png")
	if _, ok := plain.Match("01.png"); ok {
		t.Errorf(`pattern %%d matched "01.png", which ffmpeg never writes`)
	}
	if n, ok := plain.Match("10.png"); !ok || n != 10 {
		t.Errorf(`%%d did not match "10.png": %d %v`, n, ok)
	}
	for _, name := range []string{"frame.jpg", "f_%d_%d.jpg", "f_%1d.jpg", "f_%5s.jpg", "f/%d.jpg", "f_%d.txt"} {
		if _, ok := template.ParseImageSequence(name); ok {
			t.Errorf("ParseImageSequence(%q) accepted it", name)
		}
	}
}

func TestImageSequenceOverlaps(t *testing.T) {
	parse := func(s string) template.ImageSequence {
		seq, ok := template.ParseImageSequence(s)
		if !ok {
			t.Fatalf("%q is not an image sequence", s)
		}
		return seq
	}
	for _, pair := range [][2]string{{"a_%d.jpg", "a_%02d.jpg"}, {"a%d.jpg", "a1%d.jpg"}, {"a%d.jpg", "a%d5.jpg"}} {
		if !parse(pair[0]).Overlaps(parse(pair[1])) || !parse(pair[1]).Overlaps(parse(pair[0])) {
			t.Errorf("%q and %q can name the same file but do not overlap", pair[0], pair[1])
		}
	}
	for _, pair := range [][2]string{{"a_%d.jpg", "b_%d.jpg"}, {"a_%d.jpg", "a_%d.png"}} {
		if parse(pair[0]).Overlaps(parse(pair[1])) {
			t.Errorf("%q and %q overlap", pair[0], pair[1])
		}
	}
}
