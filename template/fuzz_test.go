package template

import (
	"errors"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLex checks properties that must hold for any input: no panic, a
// well-formed error or canonical, deterministic words that survive being
// quoted and read back.
func FuzzLex(f *testing.F) {
	for _, tc := range lexAccepted {
		f.Add(tc.command)
	}
	for _, tc := range lexRejected {
		f.Add(tc.command)
	}
	f.Fuzz(func(t *testing.T, command string) {
		words, err := Lex(command)
		if err != nil {
			checkLexError(t, command, err)
			return
		}
		checkCanonicalWords(t, command, words)
		again, err := Lex(command)
		if err != nil || !reflect.DeepEqual(again, words) {
			t.Fatalf("Lex(%q) not deterministic: %#v then %#v, %v", command, words, again, err)
		}
		checkRoundTrip(t, command, words)
	})
}

func checkLexError(t *testing.T, command string, err error) {
	t.Helper()
	var le *LexError
	if !errors.As(err, &le) {
		t.Fatalf("Lex(%q) error %T, want *LexError", command, err)
	}
	if le.Offset < 0 || le.Offset > len(command) {
		t.Fatalf("Lex(%q) offset %d out of range", command, le.Offset)
	}
	if le.Msg == "" || !utf8.ValidString(le.Msg) {
		t.Fatalf("Lex(%q) bad message %q", command, le.Msg)
	}
}

// checkCanonicalWords asserts the documented shape of Lex's output.
func checkCanonicalWords(t *testing.T, command string, words []Word) {
	t.Helper()
	if len(words) == 0 {
		t.Fatalf("Lex(%q) accepted an empty command", command)
	}
	for _, word := range words {
		if word == nil {
			t.Fatalf("Lex(%q): nil word", command)
		}
		for i, p := range word {
			if (p.Alias == "") == (p.Literal == "") {
				t.Fatalf("Lex(%q): part %#v must set exactly one field", command, p)
			}
			if p.Alias != "" && !allAliasBytes(p.Alias) {
				t.Fatalf("Lex(%q): bad alias %q", command, p.Alias)
			}
			if i > 0 && p.Literal != "" && word[i-1].Literal != "" {
				t.Fatalf("Lex(%q): adjacent literal parts in %#v", command, word)
			}
			if strings.Contains(p.Literal, "{{") {
				t.Fatalf("Lex(%q): literal %q contains {{", command, p.Literal)
			}
			for _, r := range p.Literal {
				if isForbiddenControl(r) {
					t.Fatalf("Lex(%q): literal %q contains control %U", command, p.Literal, r)
				}
			}
		}
	}
}

// placeholderText matches anything that reads as a placeholder, either form.
var placeholderText = regexp.MustCompile(`(?:\{\{|<<)[ \t]*([A-Za-z0-9_]+)[ \t]*(?:\}\}|>>)`)

// FuzzParse drives Parse with arbitrary commands and alias maps. Commands
// are separated by NUL (which no valid command contains); inputs are keys
// separated by newlines; outputs are "alias<TAB>file name" lines.
func FuzzParse(f *testing.F) {
	add := func(spec Spec) {
		var ins, outs []string
		for _, k := range sortedKeys(spec.InputFiles) {
			ins = append(ins, k)
		}
		for _, k := range sortedKeys(spec.OutputFiles) {
			outs = append(outs, k+"\t"+spec.OutputFiles[k])
		}
		f.Add(strings.Join(spec.Commands, "\x00"), strings.Join(ins, "\n"), strings.Join(outs, "\n"), spec.CommandField == "ffmpeg_commands")
	}
	for _, tc := range parseAcceptCases() {
		add(tc.spec)
	}
	for _, tc := range parseRejectCases() {
		add(tc.spec)
	}
	for _, tc := range lexAccepted {
		add(Spec{Commands: []string{tc.command}})
	}
	add(Spec{
		CommandField: "ffmpeg_commands",
		InputFiles:   map[string]string{"in_video": videoURL},
		OutputFiles:  map[string]string{"out_small": "small.mp4", "out_thumb": "thumb.jpg"},
		Commands:     []string{"-i {{in_video}} tmp.mp4", "-i tmp.mp4 {{out_small}}", "-i <<out_small>> -frames:v 1 {{ out_thumb }}"},
	})

	f.Fuzz(func(t *testing.T, commands, inputs, outputs string, chained bool) {
		spec := Spec{
			Commands:     strings.Split(commands, "\x00"),
			CommandField: "ffmpeg_command",
			InputFiles:   map[string]string{},
			OutputFiles:  map[string]string{},
		}
		if chained {
			spec.CommandField = "ffmpeg_commands"
		}
		if inputs != "" {
			for _, k := range strings.Split(inputs, "\n") {
				spec.InputFiles[k] = videoURL
			}
		}
		if outputs != "" {
			for _, line := range strings.Split(outputs, "\n") {
				k, v, _ := strings.Cut(line, "\t")
				spec.OutputFiles[k] = v
			}
		}

		tmpl, err := Parse(spec)
		tmpl2, err2 := Parse(spec)
		if !reflect.DeepEqual(tmpl, tmpl2) || !reflect.DeepEqual(err, err2) {
			t.Fatalf("Parse not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			checkParseFailure(t, spec, err)
			return
		}
		checkParseSuccess(t, spec, tmpl)
	})
}

func checkParseFailure(t *testing.T, spec Spec, err error) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("Parse error %T %v, want non-empty Errors", err, err)
	}
	for _, fe := range errs {
		if len(fe.Loc) < 2 || fe.Loc[0] != "body" {
			t.Fatalf("bad loc %#v", fe.Loc)
		}
		switch fe.Loc[1] {
		case "input_files", "output_files", spec.CommandField:
		default:
			t.Fatalf("loc %#v names no request field", fe.Loc)
		}
		if fe.Type != "value_error" || fe.Msg == "" || !utf8.ValidString(fe.Msg) {
			t.Fatalf("bad field error %#v", fe)
		}
	}
}

func checkParseSuccess(t *testing.T, spec Spec, tmpl *Template) {
	t.Helper()
	if len(tmpl.Steps) != len(spec.Commands) || len(tmpl.Steps) == 0 || len(tmpl.Steps) > MaxSteps {
		t.Fatalf("%d steps for %d commands", len(tmpl.Steps), len(spec.Commands))
	}
	if !sort.StringsAreSorted(tmpl.Inputs) || !sort.StringsAreSorted(tmpl.Outputs) {
		t.Fatalf("aliases not sorted: %v %v", tmpl.Inputs, tmpl.Outputs)
	}
	declared := map[string]bool{}
	paths := map[string]string{}
	for _, a := range tmpl.Inputs {
		if !ValidInputAlias(a) {
			t.Fatalf("accepted input alias %q", a)
		}
		declared[a] = true
		paths[a] = "/job/in/" + a + ".dat"
	}
	seenNames := map[string]bool{}
	for _, a := range tmpl.Outputs {
		name := spec.OutputFiles[a]
		if !ValidOutputAlias(a) || ValidOutputFileName(name) != nil || seenNames[name] {
			t.Fatalf("accepted output %q -> %q", a, name)
		}
		seenNames[name] = true
		declared[a] = true
		paths[a] = "/job/out/" + name
	}

	used := map[string]bool{}
	for step, command := range spec.Commands {
		words, err := Lex(command)
		if err != nil || !reflect.DeepEqual(words, tmpl.Steps[step]) {
			t.Fatalf("Lex(%q) = %#v, %v; Parse made %#v", command, words, err, tmpl.Steps[step])
		}
		again, _ := Lex(command)
		if !reflect.DeepEqual(words, again) {
			t.Fatalf("Lex(%q) not deterministic", command)
		}
		for _, word := range words {
			for _, p := range word {
				if p.Alias != "" {
					if !declared[p.Alias] {
						t.Fatalf("undeclared %q accepted in %q", p.Alias, command)
					}
					used[p.Alias] = true
				}
			}
		}

		argv, err := tmpl.Argv(step, paths)
		if err != nil {
			t.Fatalf("Argv(%d): %v", step, err)
		}
		if len(argv) != len(words) {
			t.Fatalf("Argv(%d) has %d elements for %d words", step, len(argv), len(words))
		}
		for _, arg := range argv {
			for _, m := range placeholderText.FindAllStringSubmatch(arg, -1) {
				if declared[m[1]] {
					t.Fatalf("argv element %q of %q keeps placeholder %s", arg, command, m[0])
				}
			}
			if strings.Contains(arg, "{{") {
				t.Fatalf("argv element %q of %q contains {{", arg, command)
			}
		}
	}
	for a := range declared {
		if !used[a] {
			t.Fatalf("declared alias %q accepted unused", a)
		}
	}
}
