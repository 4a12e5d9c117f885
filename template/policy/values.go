package policy

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Bounds on what a command may ask ffmpeg to generate. They stop a small
// request from making a huge amount of work (a 100000x100000 scale, a
// source that never ends, an input looped forever); the run timeout and
// output size cap stay the last line.
const (
	MaxDimension     = 8192   // pixels per side
	MaxSourceSeconds = 3600   // duration of a generated (lavfi) source
	MaxFrameRate     = 1000   // frames per second
	MaxSampleRate    = 768000 // audio samples per second
	MaxLoops         = 1000   // -stream_loop and the loop filters
	MaxThreads       = 16
)

// parseDuration reads an FFmpeg duration (av_parse_time with duration=1):
// [-][HH:]MM:SS[.m…] or [-]S+[.m…][s|ms|us]. ok is false for anything else.
func parseDuration(s string) (seconds float64, ok bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var v float64
	switch {
	case strings.Contains(s, ":"):
		parts := strings.Split(s, ":")
		if len(parts) > 3 {
			return 0, false
		}
		for i, p := range parts {
			if !decimal.MatchString(p) || (i < len(parts)-1 && strings.Contains(p, ".")) {
				return 0, false
			}
			f, _ := strconv.ParseFloat(p, 64)
			v = v*60 + f
		}
	default:
		unit := 1.0
		switch {
		case strings.HasSuffix(s, "ms"):
			s, unit = strings.TrimSuffix(s, "ms"), 1e-3
		case strings.HasSuffix(s, "us"):
			s, unit = strings.TrimSuffix(s, "us"), 1e-6
		case strings.HasSuffix(s, "s"):
			s = strings.TrimSuffix(s, "s")
		}
		if !decimal.MatchString(s) {
			return 0, false
		}
		f, _ := strconv.ParseFloat(s, 64)
		v = f * unit
	}
	if neg {
		v = -v
	}
	return v, !math.IsInf(v, 0) && !math.IsNaN(v)
}

var decimal = regexp.MustCompile(`^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$`)

// namedSizes are libavutil's video size abbreviations (parseutils.c) that a
// command may use; each is within MaxDimension.
var namedSizes = map[string][2]int{
	"ntsc": {720, 480}, "pal": {720, 576}, "qntsc": {352, 240}, "qpal": {352, 288}, "sntsc": {640, 480},
	"spal": {768, 576}, "film": {352, 240}, "ntsc-film": {352, 240}, "sqcif": {128, 96}, "qcif": {176, 144},
	"cif": {352, 288}, "4cif": {704, 576}, "16cif": {1408, 1152}, "qqvga": {160, 120}, "qvga": {320, 240},
	"vga": {640, 480}, "svga": {800, 600}, "xga": {1024, 768}, "uxga": {1600, 1200}, "qxga": {2048, 1536},
	"sxga": {1280, 1024}, "wxga": {1366, 768}, "wsxga": {1600, 1024}, "wuxga": {1920, 1200}, "woxga": {2560, 1600},
	"hd480": {852, 480}, "hd720": {1280, 720}, "hd1080": {1920, 1080}, "2k": {2048, 1080}, "2kflat": {1998, 1080},
	"2kscope": {2048, 858}, "4k": {4096, 2160}, "4kflat": {3996, 2160}, "4kscope": {4096, 1716}, "nhd": {640, 360},
	"hqvga": {240, 160}, "wqvga": {400, 240}, "fwqvga": {432, 240}, "hvga": {480, 320}, "qhd": {960, 540},
	"2kdci": {2048, 1080}, "4kdci": {4096, 2160}, "uhd2160": {3840, 2160}, "uhd4320": {7680, 4320},
}

var widthByHeight = regexp.MustCompile(`^([0-9]{1,6})x([0-9]{1,6})$`)

// sizeProblem checks a video size (WxH or a named size) against
// MaxDimension; it returns "" when the size is fine.
func sizeProblem(s string) string {
	if _, ok := namedSizes[s]; ok {
		return ""
	}
	m := widthByHeight.FindStringSubmatch(s)
	if m == nil {
		return "is not a size; write WIDTHxHEIGHT, for example 640x360"
	}
	w, _ := strconv.Atoi(m[1])
	h, _ := strconv.Atoi(m[2])
	if w > MaxDimension || h > MaxDimension {
		return "is larger than " + strconv.Itoa(MaxDimension) + " pixels on a side"
	}
	return ""
}

// numberAbove reports whether s is a plain number greater than limit.
// Expressions ("iw/2") are not numbers and are not bounded here.
func numberAbove(s string, limit float64) bool {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil && (f > limit || math.IsInf(f, 0))
}

// rateAbove reports whether s, a rate written as a number, a fraction or
// a name, is a plain value above limit.
func rateAbove(s string, limit float64) bool {
	if num, den, ok := strings.Cut(s, "/"); ok {
		n, err1 := strconv.ParseFloat(num, 64)
		d, err2 := strconv.ParseFloat(den, 64)
		return err1 == nil && err2 == nil && (d <= 0 || n/d > limit)
	}
	return numberAbove(s, limit)
}

// wholeNumberIn reports whether s is an integer within [lo, hi].
func wholeNumberIn(s string, lo, hi int) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= lo && n <= hi
}
