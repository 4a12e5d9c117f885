package template

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const videoURL = "https://example.com/in.mp4"

func baseSpec() Spec {
	return Spec{
		Commands:     []string{"-i {{in_video}} {{out_video}}"},
		CommandField: "ffmpeg_command",
		InputFiles:   map[string]string{"in_video": videoURL},
		OutputFiles:  map[string]string{"out_video": "out.mp4"},
	}
}

func with(f func(*Spec)) Spec {
	s := baseSpec()
	f(&s)
	return s
}

func loc(parts ...any) []any { return append([]any{"body"}, parts...) }

// wantError is one expected FieldError: its exact location and words its
// message must contain (always including the offending token).
type wantError struct {
	loc    []any
	msgHas []string
}

type parseAcceptCase struct {
	name  string
	spec  Spec
	steps [][]Word // nil: only acceptance is checked
}

// parseAcceptCases is a function, not a variable, because every call must
// hand out fresh maps: the cases are also the fuzz seed corpus.
func parseAcceptCases() []parseAcceptCase {
	return []parseAcceptCase{
		{
			"minimal",
			baseSpec(),
			[][]Word{{lw("-i"), w(ph("in_video")), w(ph("out_video"))}},
		},
		{
			"ffmpeg prefix optional",
			with(func(s *Spec) { s.Commands = []string{"ffmpeg -i {{in_video}} {{out_video}}"} }),
			[][]Word{{lw("-i"), w(ph("in_video")), w(ph("out_video"))}},
		},
		{
			"empty CommandField means single",
			with(func(s *Spec) { s.CommandField = "" }),
			[][]Word{{lw("-i"), w(ph("in_video")), w(ph("out_video"))}},
		},
		{
			"angle placeholders",
			with(func(s *Spec) { s.Commands = []string{"-i <<in_video>> << out_video >>"} }),
			[][]Word{{lw("-i"), w(ph("in_video")), w(ph("out_video"))}},
		},
		{
			"no files at all",
			Spec{Commands: []string{"-f lavfi -i testsrc=duration=1 -f null -"}, CommandField: "ffmpeg_command"},
			[][]Word{lws("-f", "lavfi", "-i", "testsrc=duration=1", "-f", "null", "-")},
		},
		{
			"nil maps and only an input",
			Spec{Commands: []string{"-i {{in_video}} -f null -"}, InputFiles: map[string]string{"in_video": videoURL}},
			[][]Word{{lw("-i"), w(ph("in_video")), lw("-f"), lw("null"), lw("-")}},
		},
		{
			"placeholder used twice and inside filter",
			with(func(s *Spec) {
				s.InputFiles["in_subs"] = "https://example.com/s.srt"
				s.Commands = []string{"-i {{in_video}} -vf 'subtitles={{in_subs}}' -metadata comment={{in_video}} {{out_video}}"}
			}),
			[][]Word{{lw("-i"), w(ph("in_video")), lw("-vf"), w(lit("subtitles="), ph("in_subs")), lw("-metadata"), w(lit("comment="), ph("in_video")), w(ph("out_video"))}},
		},
		{
			"maximum counts and lengths",
			func() Spec {
				s := Spec{InputFiles: map[string]string{}, OutputFiles: map[string]string{}}
				var cmd []string
				for i := 0; i < MaxInputs; i++ {
					a := fmt.Sprintf("in_%d", i)
					s.InputFiles[a] = videoURL
					cmd = append(cmd, "-i", "{{"+a+"}}")
				}
				for i := 0; i < MaxOutputs; i++ {
					a := fmt.Sprintf("out_%d", i)
					s.OutputFiles[a] = fmt.Sprintf("o%d.mp4", i)
					cmd = append(cmd, "{{"+a+"}}")
				}
				long := "in_" + strings.Repeat("x", MaxAliasLen-3)
				delete(s.InputFiles, "in_0")
				s.InputFiles[long] = videoURL
				cmd[1] = "{{" + long + "}}"
				s.OutputFiles["out_0"] = strings.Repeat("n", MaxFileNameBytes-4) + ".mp4"
				s.Commands = []string{strings.Join(cmd, " ")}
				return s
			}(),
			nil,
		},
	}
}

func TestParseAccepted(t *testing.T) {
	for _, tc := range parseAcceptCases() {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.spec)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.steps != nil && !reflect.DeepEqual(tmpl.Steps, tc.steps) {
				t.Fatalf("steps\n got  %#v\n want %#v", tmpl.Steps, tc.steps)
			}
			if want := sortedKeys(tc.spec.InputFiles); !reflect.DeepEqual(tmpl.Inputs, want) {
				t.Errorf("Inputs = %v, want %v", tmpl.Inputs, want)
			}
			if want := sortedKeys(tc.spec.OutputFiles); !reflect.DeepEqual(tmpl.Outputs, want) {
				t.Errorf("Outputs = %v, want %v", tmpl.Outputs, want)
			}
		})
	}
}

type parseRejectCase struct {
	name string
	spec Spec
	want []wantError
}

func parseRejectCases() []parseRejectCase {
	name256 := strings.Repeat("a", MaxFileNameBytes-3) + ".mp4"
	longAlias := "in_" + strings.Repeat("x", MaxAliasLen-2)
	eleven := func(format string) (map[string]string, []string) {
		m := map[string]string{}
		var uses []string
		for i := 0; i < 11; i++ {
			a := fmt.Sprintf(format, i)
			m[a] = fmt.Sprintf("f%02d.mp4", i)
			uses = append(uses, "{{"+a+"}}")
		}
		return m, uses
	}

	return []parseRejectCase{
		{
			"input key without in_",
			with(func(s *Spec) {
				s.InputFiles = map[string]string{"video": videoURL}
				s.Commands = []string{"-i {{video}} {{out_video}}"}
			}),
			[]wantError{{loc("input_files", "video"), []string{`"video"`, `"in_"`}}},
		},
		{
			"output key without out_",
			with(func(s *Spec) {
				s.OutputFiles = map[string]string{"video": "x.mp4"}
				s.Commands = []string{"-i {{in_video}} {{video}}"}
			}),
			[]wantError{{loc("output_files", "video"), []string{`"video"`, `"out_"`}}},
		},
		{
			"output key with in_",
			with(func(s *Spec) {
				s.OutputFiles = map[string]string{"in_out": "x.mp4"}
				s.Commands = []string{"-i {{in_video}} {{in_out}}"}
			}),
			[]wantError{{loc("output_files", "in_out"), []string{`"in_out"`}}},
		},
		{
			"bad characters in aliases",
			with(func(s *Spec) {
				s.InputFiles = map[string]string{"in_vi-deo": videoURL, "in_": videoURL, "in_é": videoURL}
				s.OutputFiles = map[string]string{"out_a.b": "x.mp4"}
				s.Commands = []string{"-f null -"}
			}),
			[]wantError{
				{loc("input_files", "in_"), []string{`"in_"`}},
				{loc("input_files", "in_vi-deo"), []string{`"in_vi-deo"`}},
				{loc("input_files", "in_é"), []string{`"in_é"`}},
				{loc("output_files", "out_a.b"), []string{`"out_a.b"`}},
			},
		},
		{
			"alias too long",
			with(func(s *Spec) {
				s.InputFiles = map[string]string{longAlias: videoURL}
				s.Commands = []string{"-i {{" + longAlias + "}} {{out_video}}"}
			}),
			[]wantError{{loc("input_files", longAlias), []string{longAlias, "65 bytes", "64"}}},
		},
		{
			"undeclared placeholder",
			with(func(s *Spec) { s.Commands = []string{"-i {{in_video}} -i {{in_other}} {{out_video}}"} }),
			[]wantError{{loc("ffmpeg_command"), []string{"{{in_other}}", "offset 19", "in_video, out_video"}}},
		},
		{
			"undeclared placeholder named as written",
			with(func(s *Spec) { s.Commands = []string{"-i {{in_video}} -i << in_other >> {{out_video}}"} }),
			[]wantError{{loc("ffmpeg_command"), []string{"<< in_other >>", "in_video, out_video"}}},
		},
		{
			"undeclared placeholder reported once per step",
			with(func(s *Spec) { s.Commands = []string{"-i {{in_video}} -i {{in_x}} -i {{in_x}} {{out_video}}"} }),
			[]wantError{{loc("ffmpeg_command"), []string{"{{in_x}}"}}},
		},
		{
			"undeclared with nothing declared",
			Spec{Commands: []string{"-i {{in_x}} -f null -"}},
			[]wantError{{loc("ffmpeg_command"), []string{"{{in_x}}", "no aliases are declared"}}},
		},
		{
			"declared input unused",
			with(func(s *Spec) { s.InputFiles["in_b"] = videoURL }),
			[]wantError{{loc("input_files", "in_b"), []string{"in_b", "{{in_b}}"}}},
		},
		{
			"declared output unused",
			with(func(s *Spec) { s.OutputFiles["out_thumb"] = "t.jpg" }),
			[]wantError{{loc("output_files", "out_thumb"), []string{"out_thumb"}}},
		},
		{"traversal", with(func(s *Spec) { s.OutputFiles["out_video"] = "../../x.mp4" }),
			[]wantError{{loc("output_files", "out_video"), []string{"../../x.mp4", "path separator"}}}},
		{"leading dash", with(func(s *Spec) { s.OutputFiles["out_video"] = "-x.mp4" }),
			[]wantError{{loc("output_files", "out_video"), []string{"-x.mp4", `starts with "-"`}}}},
		{"leading dot", with(func(s *Spec) { s.OutputFiles["out_video"] = ".x.mp4" }),
			[]wantError{{loc("output_files", "out_video"), []string{".x.mp4", `starts with "."`}}}},
		{"slash", with(func(s *Spec) { s.OutputFiles["out_video"] = "a/b.mp4" }),
			[]wantError{{loc("output_files", "out_video"), []string{"a/b.mp4", "path separator"}}}},
		{"backslash", with(func(s *Spec) { s.OutputFiles["out_video"] = `a\b.mp4` }),
			[]wantError{{loc("output_files", "out_video"), []string{`a\\b.mp4`, "path separator"}}}},
		{"no extension", with(func(s *Spec) { s.OutputFiles["out_video"] = "video" }),
			[]wantError{{loc("output_files", "out_video"), []string{`"video"`, "no extension"}}}},
		{"empty extension", with(func(s *Spec) { s.OutputFiles["out_video"] = "video." }),
			[]wantError{{loc("output_files", "out_video"), []string{`"video."`, "empty extension"}}}},
		{"two extensions", with(func(s *Spec) { s.OutputFiles["out_video"] = "a.tar.gz" }),
			[]wantError{{loc("output_files", "out_video"), []string{"a.tar.gz", "one extension"}}}},
		{"dotdot inside", with(func(s *Spec) { s.OutputFiles["out_video"] = "a..mp4" }),
			[]wantError{{loc("output_files", "out_video"), []string{"a..mp4"}}}},
		{"space", with(func(s *Spec) { s.OutputFiles["out_video"] = "my video.mp4" }),
			[]wantError{{loc("output_files", "out_video"), []string{"my video.mp4", "' '"}}}},
		{"percent pattern", with(func(s *Spec) { s.OutputFiles["out_video"] = "frame%03d.png" }),
			[]wantError{{loc("output_files", "out_video"), []string{"frame%03d.png", "'%'"}}}},
		{"dash in extension", with(func(s *Spec) { s.OutputFiles["out_video"] = "a.m-p4" }),
			[]wantError{{loc("output_files", "out_video"), []string{"a.m-p4"}}}},
		{"empty name", with(func(s *Spec) { s.OutputFiles["out_video"] = "" }),
			[]wantError{{loc("output_files", "out_video"), []string{"empty"}}}},
		{"256-byte name", with(func(s *Spec) { s.OutputFiles["out_video"] = name256 }),
			[]wantError{{loc("output_files", "out_video"), []string{name256[:40], "256 bytes", "255"}}}},
		{
			"duplicate file names",
			with(func(s *Spec) {
				s.OutputFiles["out_b"] = "out.mp4"
				s.Commands = []string{"-i {{in_video}} {{out_video}} {{out_b}}"}
			}),
			[]wantError{{loc("output_files", "out_video"), []string{`"out.mp4"`, "out_b"}}},
		},
		{
			"too many inputs",
			func() Spec {
				m, uses := eleven("in_%02d")
				return Spec{InputFiles: m, Commands: []string{"-i " + strings.Join(uses, " -i ") + " -f null -"}}
			}(),
			[]wantError{{loc("input_files"), []string{"at most 10", "got 11"}}},
		},
		{
			"too many outputs",
			func() Spec {
				m, uses := eleven("out_%02d")
				return Spec{OutputFiles: m, Commands: []string{"-f lavfi -i testsrc " + strings.Join(uses, " ")}}
			}(),
			[]wantError{{loc("output_files"), []string{"at most 10", "got 11"}}},
		},
		{
			"too many steps",
			with(func(s *Spec) {
				s.CommandField = "ffmpeg_commands"
				s.Commands = nil
				for i := 0; i < MaxSteps+1; i++ {
					s.Commands = append(s.Commands, "-i {{in_video}} {{out_video}}")
				}
			}),
			[]wantError{{loc("ffmpeg_commands"), []string{"at most 10", "got 11"}}},
		},
		{
			"no commands in a chain",
			with(func(s *Spec) { s.CommandField = "ffmpeg_commands"; s.Commands = []string{} }),
			[]wantError{{loc("ffmpeg_commands"), []string{"ffmpeg_commands", "at least one"}}},
		},
		{
			"missing single command",
			with(func(s *Spec) { s.Commands = nil }),
			[]wantError{{loc("ffmpeg_command"), []string{"ffmpeg_command", "required"}}},
		},
		{
			"two commands for the single field",
			with(func(s *Spec) { s.Commands = append(s.Commands, s.Commands[0]) }),
			[]wantError{{loc("ffmpeg_command"), []string{"exactly one", "got 2"}}},
		},
		{
			"empty command",
			with(func(s *Spec) { s.Commands = []string{""} }),
			[]wantError{{loc("ffmpeg_command"), []string{"empty"}}},
		},
		{
			"only ffmpeg",
			with(func(s *Spec) { s.Commands = []string{"ffmpeg "} }),
			[]wantError{{loc("ffmpeg_command"), []string{"no arguments after ffmpeg"}}},
		},
		{
			"command too long",
			with(func(s *Spec) {
				s.Commands = []string{"-i {{in_video}} {{out_video}} -metadata x=" + strings.Repeat("a", MaxCommandBytes)}
			}),
			[]wantError{{loc("ffmpeg_command"), []string{"32768"}}},
		},
		{
			// The aliases are used inside the unreadable command, so they
			// must not also be called unused.
			"shell metacharacter alone",
			with(func(s *Spec) { s.Commands = []string{"-i {{in_video}} {{out_video}}; id"} }),
			[]wantError{{loc("ffmpeg_command"), []string{"';'", "offset 29", "without a shell"}}},
		},
		{
			"malformed placeholder",
			with(func(s *Spec) { s.Commands = []string{"-i {{in-video}} {{out_video}}"} }),
			[]wantError{{loc("ffmpeg_command"), []string{"{{in-video}}"}}},
		},
		{
			"several problems in a fixed order",
			Spec{
				CommandField: "ffmpeg_command",
				InputFiles:   map[string]string{"in_b": videoURL, "bad": videoURL, "in_a": videoURL},
				OutputFiles:  map[string]string{"out_z": "z.mp4", "out_y": "../y.mp4"},
				Commands:     []string{"-i {{in_a}} -i {{in_q}} {{out_y}} {{out_nope}} {{bad}}"},
			},
			[]wantError{
				{loc("input_files", "bad"), []string{`"bad"`}},
				{loc("output_files", "out_y"), []string{"../y.mp4"}},
				{loc("ffmpeg_command"), []string{"{{in_q}}", "bad, in_a, in_b, out_y, out_z"}},
				{loc("ffmpeg_command"), []string{"{{out_nope}}"}},
				{loc("input_files", "in_b"), []string{"in_b"}},
				{loc("output_files", "out_z"), []string{"out_z"}},
			},
		},
	}
}

func TestParseRejected(t *testing.T) {
	for _, tc := range parseRejectCases() {
		t.Run(tc.name, func(t *testing.T) {
			checkParseErrors(t, tc.spec, tc.want)
		})
	}
}

func checkParseErrors(t *testing.T, spec Spec, want []wantError) {
	t.Helper()
	tmpl, err := Parse(spec)
	if err == nil {
		t.Fatalf("Parse accepted, steps %v", tmpl.Steps)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want Errors", err)
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(want), describe(errs))
	}
	for i, fe := range errs {
		if !reflect.DeepEqual(fe.Loc, want[i].loc) {
			t.Errorf("error %d loc %#v, want %#v (msg %q)", i, fe.Loc, want[i].loc, fe.Msg)
		}
		if fe.Type != "value_error" {
			t.Errorf("error %d type %q", i, fe.Type)
		}
		for _, s := range want[i].msgHas {
			if !strings.Contains(fe.Msg, s) {
				t.Errorf("error %d message %q lacks %q", i, fe.Msg, s)
			}
		}
	}
	_, again := Parse(spec)
	if !reflect.DeepEqual(again, err) {
		t.Errorf("Parse is not deterministic:\n%s\nthen\n%v", describe(errs), again)
	}
}

func describe(errs Errors) string {
	var b strings.Builder
	for _, fe := range errs {
		fmt.Fprintf(&b, "  %v: %s\n", fe.Loc, fe.Msg)
	}
	return b.String()
}

func TestParseChained(t *testing.T) {
	spec := Spec{
		CommandField: "ffmpeg_commands",
		InputFiles:   map[string]string{"in_video": videoURL},
		OutputFiles:  map[string]string{"out_small": "small.mp4", "out_thumb": "thumb.jpg"},
		Commands: []string{
			"-i {{in_video}} -vf scale=320:180 -an tmp_scaled.mp4",
			"-i tmp_scaled.mp4 -vf hflip {{out_small}}",
			"-ss 1 -i {{out_small}} -frames:v 1 {{out_thumb}}",
		},
	}
	tmpl, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	paths := map[string]string{"in_video": "/job/in/in_video", "out_small": "/job/out/small.mp4", "out_thumb": "/job/out/thumb.jpg"}
	want := [][]string{
		{"-i", "/job/in/in_video", "-vf", "scale=320:180", "-an", "tmp_scaled.mp4"},
		{"-i", "tmp_scaled.mp4", "-vf", "hflip", "/job/out/small.mp4"},
		{"-ss", "1", "-i", "/job/out/small.mp4", "-frames:v", "1", "/job/out/thumb.jpg"},
	}
	for step := range want {
		got, err := tmpl.Argv(step, paths)
		if err != nil || !reflect.DeepEqual(got, want[step]) {
			t.Errorf("Argv(%d) = %q, %v; want %q", step, got, err, want[step])
		}
	}

	t.Run("errors carry the step index", func(t *testing.T) {
		bad := spec
		bad.Commands = []string{spec.Commands[0], "-i tmp_scaled.mp4 {{out_small}} | tee", "-i {{out_small}} {{in_nope}} {{out_thumb}}"}
		checkParseErrors(t, bad, []wantError{
			{loc("ffmpeg_commands", 1), []string{"'|'"}},
			{loc("ffmpeg_commands", 2), []string{"{{in_nope}}"}},
		})
	})
	t.Run("unused across all steps", func(t *testing.T) {
		bad := spec
		bad.Commands = []string{spec.Commands[0], "-i tmp_scaled.mp4 {{out_small}}"}
		checkParseErrors(t, bad, []wantError{{loc("output_files", "out_thumb"), []string{"out_thumb"}}})
	})
	t.Run("too many steps still checks each", func(t *testing.T) {
		bad := spec
		bad.Commands = nil
		for i := 0; i < 11; i++ {
			bad.Commands = append(bad.Commands, "-i {{in_video}} {{out_small}} {{out_thumb}}")
		}
		bad.Commands[10] = "-i {{in_video}} {{out_small}} {{out_thumb}} {{out_x}}"
		checkParseErrors(t, bad, []wantError{
			{loc("ffmpeg_commands"), []string{"got 11"}},
			{loc("ffmpeg_commands", 10), []string{"{{out_x}}"}},
		})
	})
	t.Run("one-step chain", func(t *testing.T) {
		one := spec
		one.Commands = []string{"-i {{in_video}} {{out_small}} {{out_thumb}}"}
		if _, err := Parse(one); err != nil {
			t.Fatal(err)
		}
	})
}

func TestArgv(t *testing.T) {
	spec := with(func(s *Spec) {
		s.InputFiles["in_subs"] = "https://example.com/s.srt"
		s.Commands = []string{`ffmpeg -i {{in_video}} -vf "subtitles=<<in_subs>>:force_style='Fontsize=24'" -metadata title="My Title" -f mp4 {{out_video}}`}
	})
	tmpl, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"in_video": "/j/in/in_video.mp4", "in_subs": "/j/in/in_subs.srt", "out_video": "/j/out/out.mp4"}
	got, err := tmpl.Argv(0, paths)
	want := []string{"-i", "/j/in/in_video.mp4", "-vf", "subtitles=/j/in/in_subs.srt:force_style='Fontsize=24'", "-metadata", "title=My Title", "-f", "mp4", "/j/out/out.mp4"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Argv = %q, %v\nwant %q", got, err, want)
	}

	delete(paths, "in_subs")
	if _, err := tmpl.Argv(0, paths); err == nil || !strings.Contains(err.Error(), "{{in_subs}}") {
		t.Errorf("missing path: err = %v", err)
	}
	paths["in_subs"] = ""
	if _, err := tmpl.Argv(0, paths); err == nil {
		t.Error("empty path accepted")
	}
	for _, step := range []int{-1, 1} {
		if _, err := tmpl.Argv(step, paths); err == nil {
			t.Errorf("Argv(%d) accepted", step)
		}
	}
}

func TestValidators(t *testing.T) {
	for s, want := range map[string]bool{
		"in_video": true, "in_1": true, "in_A_b9": true, "in_": false, "in": false, "video": false,
		"out_video": false, "in_a-b": false, "in_a b": false, "IN_video": false,
		"in_" + strings.Repeat("a", MaxAliasLen-3): true, "in_" + strings.Repeat("a", MaxAliasLen-2): false,
	} {
		if got := ValidInputAlias(s); got != want {
			t.Errorf("ValidInputAlias(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"out_video": true, "out_1": true, "out_": false, "in_video": false, "out-video": false,
	} {
		if got := ValidOutputAlias(s); got != want {
			t.Errorf("ValidOutputAlias(%q) = %v", s, got)
		}
	}
	for s, ok := range map[string]bool{
		"video.mp4": true, "a.b": true, "_x.mp4": true, "clip-720p_v2.webm": true, "0.png": true,
		"x-.mp4": true, "video": false, ".mp4": false, "-x.mp4": false, "x.": false, "a.b.c": false,
		"a/b.mp4": false, "..": false, "vidéo.mp4": false, "a:b.mp4": false, "a.mp4 ": false,
	} {
		if err := ValidOutputFileName(s); (err == nil) != ok {
			t.Errorf("ValidOutputFileName(%q) = %v", s, err)
		}
	}
}

func TestErrorsError(t *testing.T) {
	errs := Errors{{Msg: "a"}, {Msg: "b"}}
	if errs.Error() != "a; b" {
		t.Errorf("Error() = %q", errs.Error())
	}
}
