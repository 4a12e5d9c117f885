package engine

import (
	"math"
	"strconv"
	"strings"
)

// plannedSeconds estimates how many seconds of media one ffmpeg step will
// write, from its argv and the durations of its inputs (by the path on the
// command line). ffmpeg's -progress output reports how far into that it
// is (out_time), so progress is their ratio.
//
// The estimate must never make progress wrong, only absent: it answers
// false whenever it can't be sure, namely when
//   - an input's duration is unknown (a generated lavfi source, a stream
//     ffprobe can't time) and no output option bounds the output;
//   - an input loops (-stream_loop, -loop) or is rescaled in time
//     (-itsscale) and no output option bounds the output;
//   - a filter changes timing (setpts, atempo, trim, concat, tpad, loop, …);
//   - the output is cut by a frame count (-frames, -vframes, …).
//
// Otherwise the output lasts as long as its longest input (its shortest
// with -shortest), after each input's -ss/-sseof/-t/-to, then each
// output's own -ss/-t/-to; with several outputs, the longest of them
// (out_time is the furthest any output got). A still image without -loop
// adds nothing to the duration.
func plannedSeconds(argv []string, outputs map[string]bool, inputSeconds func(path string) (seconds float64, still bool, ok bool)) (float64, bool) {
	type timeOpts struct{ ss, t, to, sseof float64 }
	unset := math.NaN()
	fresh := func() timeOpts { return timeOpts{unset, unset, unset, unset} }

	var (
		opts          = fresh()
		loops         bool // an input option that makes the input endless or rescaled
		inputs        []float64
		inputUnknown  bool
		shortest      bool
		outputSeconds []float64 // per output: its bound, NaN when none
		outputCuts    []timeOpts
	)
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		next := func() (string, bool) {
			if i+1 < len(argv) {
				i++
				return argv[i], true
			}
			return "", false
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), ":")
		switch {
		case a == "-i":
			path, _ := next()
			d, still, ok := inputSeconds(path)
			switch {
			case loops:
				inputUnknown = true
			case !ok:
				inputUnknown = true
			case still:
				d = 0
				inputs = append(inputs, applyInputCuts(d, opts.ss, opts.t, opts.to, opts.sseof))
			default:
				inputs = append(inputs, applyInputCuts(d, opts.ss, opts.t, opts.to, opts.sseof))
			}
			opts, loops = fresh(), false
		case outputs[a] || a == "-":
			outputCuts = append(outputCuts, opts)
			opts = fresh()
		case a == "-shortest":
			shortest = true
		case name == "stream_loop" || name == "loop" || name == "itsscale":
			v, _ := next()
			if name == "itsscale" || v != "0" { // -loop 0 / -stream_loop 0: play once
				loops = true
			}
		case name == "frames" || name == "vframes" || name == "aframes" || name == "dframes":
			return 0, false
		case name == "vf" || name == "af" || name == "filter" || name == "filter_complex" || name == "lavfi":
			v, _ := next()
			if changesTiming(v) {
				return 0, false
			}
		case name == "ss" || name == "t" || name == "to" || name == "sseof":
			v, _ := next()
			s, ok := parseFFmpegTime(v)
			if !ok {
				return 0, false
			}
			switch name {
			case "ss":
				opts.ss = s
			case "t":
				opts.t = s
			case "to":
				opts.to = s
			case "sseof":
				opts.sseof = s
			}
		}
	}
	if len(outputCuts) == 0 {
		return 0, false
	}
	var base float64
	baseKnown := !inputUnknown && len(inputs) > 0
	if baseKnown {
		base = -1
		for _, d := range inputs {
			switch {
			case d == 0: // a still image: it lasts as long as the rest
			case base < 0:
				base = d
			case shortest:
				base = math.Min(base, d)
			default:
				base = math.Max(base, d)
			}
		}
		if base < 0 {
			return 0, false // only stills: a frame or so, nothing to time
		}
	}
	for _, c := range outputCuts {
		d, ok := applyOutputCuts(base, baseKnown, c.ss, c.t, c.to)
		if !ok {
			return 0, false
		}
		outputSeconds = append(outputSeconds, d)
	}
	planned := 0.0
	for _, d := range outputSeconds {
		planned = math.Max(planned, d)
	}
	if planned <= 0 {
		return 0, false
	}
	return planned, true
}

// applyInputCuts is an input's duration after its own -ss, -sseof, -t and
// -to (NaN: not given).
func applyInputCuts(d, ss, t, to, sseof float64) float64 {
	start := 0.0
	if !math.IsNaN(sseof) {
		start = math.Max(0, d+sseof) // -sseof is negative: from the end
	}
	if !math.IsNaN(ss) {
		start = ss
	}
	end := d
	if !math.IsNaN(to) {
		end = math.Min(end, to)
	}
	out := math.Max(0, end-start)
	if !math.IsNaN(t) {
		out = math.Min(out, t)
	}
	return out
}

// applyOutputCuts bounds an output by its -ss, -t and -to. With the inputs'
// length unknown, only -t or -to bound it, and then it is assumed that the
// inputs last at least that long.
func applyOutputCuts(base float64, known bool, ss, t, to float64) (float64, bool) {
	if !known {
		if math.IsNaN(t) && math.IsNaN(to) {
			return 0, false
		}
		base = math.Inf(1)
	}
	end := base
	if !math.IsNaN(to) {
		end = math.Min(end, to)
	}
	d := end
	if !math.IsNaN(ss) {
		d = math.Max(0, end-ss)
	}
	if !math.IsNaN(t) {
		d = math.Min(d, t)
	}
	if math.IsInf(d, 0) {
		return 0, false
	}
	return d, true
}

// timingFilters change how long their output lasts relative to their
// input, so a command using one has no plannable duration.
var timingFilters = map[string]bool{
	"setpts": true, "asetpts": true, "atempo": true, "trim": true, "atrim": true, "concat": true,
	"tpad": true, "apad": true, "loop": true, "aloop": true, "rubberband": true, "select": true, "aselect": true,
	"framestep": true,
}

// changesTiming reports whether a filtergraph names a filter of
// timingFilters. It only needs filter names: each filter is what comes
// after a separator (',' ';') and any [label]s, up to '=' or '@'.
func changesTiming(graph string) bool {
	for _, f := range strings.FieldsFunc(graph, func(r rune) bool { return r == ',' || r == ';' }) {
		f = strings.TrimSpace(f)
		for strings.HasPrefix(f, "[") {
			end := strings.IndexByte(f, ']')
			if end < 0 {
				break
			}
			f = strings.TrimSpace(f[end+1:])
		}
		name := f
		if i := strings.IndexAny(name, "=@[ "); i >= 0 {
			name = name[:i]
		}
		if timingFilters[name] {
			return true
		}
	}
	return false
}

// parseFFmpegTime reads an ffmpeg time duration: [-][HH:]MM:SS[.m…] or
// [-]S+[.m…][s|ms|us].
func parseFFmpegTime(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var v float64
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		if len(parts) > 3 {
			return 0, false
		}
		for _, p := range parts {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 {
				return 0, false
			}
			v = v*60 + f
		}
	} else {
		unit := 1.0
		switch {
		case strings.HasSuffix(s, "ms"):
			s, unit = strings.TrimSuffix(s, "ms"), 1e-3
		case strings.HasSuffix(s, "us"):
			s, unit = strings.TrimSuffix(s, "us"), 1e-6
		case strings.HasSuffix(s, "s"):
			s = strings.TrimSuffix(s, "s")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		v = f * unit
	}
	if neg {
		v = -v
	}
	return v, true
}
