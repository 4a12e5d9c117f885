package policy

import (
	"strings"
	"testing"

	"github.com/openrender/openrender/template"
)

var fuzzSpec = template.Spec{
	InputFiles:  map[string]string{"in_video": "https://example.com/a.mp4", "in_subs": "https://example.com/a.srt"},
	OutputFiles: map[string]string{"out_video": "out.mp4", "out_log": "log.txt"},
}

// fuzzPaths are what the engine substitutes: paths in its own charset.
var fuzzPaths = map[string]string{
	"in_video": "in/in_video.mp4", "in_subs": "in/in_subs.srt", "out_video": "out/out.mp4", "out_log": "out/log.txt",
}

// FuzzValidate checks Check on arbitrary commands: it never panics, every
// refusal is located at the command and a word, and nothing it accepts
// names a file other than through a placeholder. That last property is
// checked on the substituted argv, the way ffmpeg will see it, by a walk
// independent of the checker's: every -i value and every output position
// is a placeholder's path (or a lavfi graph, or "-" after -f null), every
// filtergraph parses to allowed filters only, every file option of a
// filter holds a placeholder's path, and substituting paths for
// placeholders does not change how any graph parses.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		"-i {{in_video}} -i {{in_subs}} -vf subtitles={{in_subs}} {{out_video}} -vf metadata=print:file={{out_log}} -f null -",
		`-i {{in_video}} -vf "subtitles=filename='{{in_subs}}':force_style='FontSize=24',drawtext=text='a\:b'" -metadata:s:a:0 language=eng {{out_video}}`,
		`-f lavfi -i color=c=red:d=1:s=64x48 -i {{in_video}} -i {{in_subs}} -filter_complex "[0:v][1:v]overlay[o];[o]metadata=print:file={{out_log}}" {{out_video}}`,
		`-i {{in_video}} -vf 'drawtext={{in_subs}}:x:{{in_subs}}' {{out_video}}`,
		`-i {{in_video}} -f lavfi -i 'mo\vie=x' {{out_video}}`,
		`-i {{in_video}} -vf "drawtext='textfile'={{in_subs}}" {{out_log}} {{out_video}}`,
		"-i {{in_video}} -c:v:0 libx264 -x264-params keyint=2:dump-yuv=x -- {{out_video}}",
		"-i {{in_video}} -i {{in_subs}} -attach {{in_subs}} -hls_segment_filename {{out_log}} -f hls {{out_video}}",
		`-i {{in_video}} -lavfi "[0:v]split[a][b];[a][b]hstack,subtitles=f={{in_subs}}:fontsdir=x" {{out_video}} {{out_log}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, command string) {
		spec := fuzzSpec
		spec.Commands = []string{command}
		tmpl, err := template.Parse(spec)
		if err != nil {
			return
		}
		errs := Check(tmpl, "ffmpeg_command")
		for _, e := range errs {
			if len(e.Loc) != 3 || e.Loc[0] != "body" || e.Loc[1] != "ffmpeg_command" || e.Msg == "" {
				t.Fatalf("%q: malformed problem %+v", command, e)
			}
			if _, ok := e.Loc[2].(string); !ok {
				t.Fatalf("%q: problem without a word %+v", command, e)
			}
		}
		if len(errs) > 0 {
			return
		}
		checkAccepted(t, command, tmpl)
	})
}

func checkAccepted(t *testing.T, command string, tmpl *template.Template) {
	argv, err := tmpl.Argv(0, fuzzPaths)
	if err != nil {
		t.Fatalf("%q: Argv: %v", command, err)
	}
	words := tmpl.Steps[0]
	isInput := func(p string) bool { return p == fuzzPaths["in_video"] || p == fuzzPaths["in_subs"] }
	isOutput := func(p string) bool { return p == fuzzPaths["out_video"] || p == fuzzPaths["out_log"] }
	format := ""
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if !isOutput(a) && !(a == "-" && format == "null") {
				t.Fatalf("%q: accepted output %q", command, a)
			}
			format = ""
			continue
		}
		base, _, _ := strings.Cut(a[1:], ":")
		rule, ok := allowedOptions[base]
		if !ok {
			t.Fatalf("%q: accepted option %q", command, a)
		}
		if rule.value == noValue {
			continue
		}
		i++
		v := argv[i]
		switch rule.value {
		case formatName:
			format = v
		case inputFile:
			if format == "lavfi" {
				checkAcceptedGraph(t, command, v, words[i])
			} else if !isInput(v) {
				t.Fatalf("%q: accepted input %q", command, v)
			}
			format = ""
		case attachFile:
			if !isInput(v) {
				t.Fatalf("%q: accepted attachment %q", command, v)
			}
		case outputFile:
			if !isOutput(v) {
				t.Fatalf("%q: accepted output file option %q", command, v)
			}
		case filtergraph:
			checkAcceptedGraph(t, command, v, words[i])
		}
	}
}

func checkAcceptedGraph(t *testing.T, command, graph string, word template.Word) {
	g, err := ParseGraph(graph)
	if err != nil {
		t.Fatalf("%q: accepted graph %q that does not parse once substituted: %v", command, graph, err)
	}
	withSentinels, err := ParseGraph(graphText(word))
	if err != nil || len(withSentinels.Filters) != len(g.Filters) {
		t.Fatalf("%q: graph %q parses differently with placeholders substituted", command, graph)
	}
	for fi, f := range g.Filters {
		rule, ok := allowedFilters[f.Name]
		if !ok || f.Name != withSentinels.Filters[fi].Name || len(f.Args) != len(withSentinels.Filters[fi].Args) {
			t.Fatalf("%q: accepted filter %q (parsed with placeholders as %q)", command, f.Name, withSentinels.Filters[fi].Name)
		}
		for ai, a := range f.Args {
			if a.Key != withSentinels.Filters[fi].Args[ai].Key {
				t.Fatalf("%q: filter %s argument %d changes key once substituted", command, f.Name, ai)
			}
			opt := a.Key
			if opt == "" && a.Position < len(rule.positional) {
				opt = rule.positional[a.Position]
			}
			if canonical, ok := rule.aliases[opt]; ok {
				opt = canonical
			}
			switch {
			case contains(rule.readsFile, opt):
				if a.Value != fuzzPaths["in_video"] && a.Value != fuzzPaths["in_subs"] {
					t.Fatalf("%q: filter %s reads %q", command, f.Name, a.Value)
				}
			case contains(rule.writesFile, opt):
				if a.Value != fuzzPaths["out_video"] && a.Value != fuzzPaths["out_log"] {
					t.Fatalf("%q: filter %s writes %q", command, f.Name, a.Value)
				}
			}
		}
	}
}
