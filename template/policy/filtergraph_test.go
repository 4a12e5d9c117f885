package policy

import (
	"fmt"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// getToken follows av_get_token: one level of \ escaping and '…' quoting,
// leading whitespace skipped, unprotected trailing whitespace trimmed.
func TestGetToken(t *testing.T) {
	for _, tc := range []struct{ in, term, token, rest string }{
		{"abc", ":", "abc", ""},
		{"a:b", ":", "a", ":b"},
		{`a\:b:c`, ":", "a:b", ":c"},
		{`'a:b':c`, ":", "a:b", ":c"},
		{`m'ov'ie=x`, "=", "movie", "=x"},
		{`mo\vie=x`, "=", "movie", "=x"},
		{"  lead", ":", "lead", ""},
		{"trail  :x", ":", "trail", ":x"},
		{`trail\ :x`, ":", "trail ", ":x"},
		{`'trail ' :x`, ":", "trail ", ":x"},
		{`'unclosed`, ":", "unclosed", ""},
		{`back\`, ":", `back\`, ""},
		{`\\`, ":", `\`, ""},
		{`a'\'b`, ":", `a\b`, ""},
		{"", ":", "", ""},
	} {
		token, rest := getToken(tc.in, tc.term)
		if token != tc.token || rest != tc.rest {
			t.Errorf("getToken(%q, %q) = %q, %q; want %q, %q", tc.in, tc.term, token, rest, tc.token, tc.rest)
		}
	}
}

func TestParseGraph(t *testing.T) {
	for _, tc := range []struct {
		graph string
		want  []Filter
	}{
		{"scale=320:180", []Filter{{Name: "scale", Args: []FilterArg{{Position: 0, Value: "320"}, {Position: 1, Value: "180"}}}}},
		{"scale=w=320:h=-2,hflip", []Filter{
			{Name: "scale", Args: []FilterArg{{Key: "w", Position: -1, Value: "320"}, {Key: "h", Position: -1, Value: "-2"}}},
			{Name: "hflip"}}},
		{"[0:v][1:v]overlay=10:10[out];[out]null", []Filter{
			{Name: "overlay", Inputs: []string{"0:v", "1:v"}, Outputs: []string{"out"},
				Args: []FilterArg{{Position: 0, Value: "10"}, {Position: 1, Value: "10"}}},
			{Name: "null", Inputs: []string{"out"}}}},
		// Escaped and quoted names are the plain name after unescaping.
		{`mo\vie=x`, []Filter{{Name: "movie", Args: []FilterArg{{Position: 0, Value: "x"}}}}},
		{`'movie'=x`, []Filter{{Name: "movie", Args: []FilterArg{{Position: 0, Value: "x"}}}}},
		{`m'ov'ie=x`, []Filter{{Name: "movie", Args: []FilterArg{{Position: 0, Value: "x"}}}}},
		{`movie@foo=x`, []Filter{{Name: "movie", Instance: "foo", Args: []FilterArg{{Position: 0, Value: "x"}}}}},
		{`[in]movie=x`, []Filter{{Name: "movie", Inputs: []string{"in"}, Args: []FilterArg{{Position: 0, Value: "x"}}}}},
		// Keys are unescaped at the graph level only.
		{`drawtext=text\file=/etc/passwd`, []Filter{{Name: "drawtext", Args: []FilterArg{{Key: "textfile", Position: -1, Value: "/etc/passwd"}}}}},
		{`drawtext='textfile'=/etc/passwd`, []Filter{{Name: "drawtext", Args: []FilterArg{{Key: "textfile", Position: -1, Value: "/etc/passwd"}}}}},
		// Two levels: the graph level keeps \: inside quotes, the argument
		// level then turns it into ':'.
		{`drawtext=text='a\:b':x=1`, []Filter{{Name: "drawtext", Args: []FilterArg{{Key: "text", Position: -1, Value: "a:b"}, {Key: "x", Position: -1, Value: "1"}}}}},
		{`drawtext=text=a\\\:b`, []Filter{{Name: "drawtext", Args: []FilterArg{{Key: "text", Position: -1, Value: "a:b"}}}}},
		// A quoted ',' or ';' does not split the graph.
		{`select='gt(scene\,0.4)',null`, []Filter{{Name: "select", Args: []FilterArg{{Position: 0, Value: "gt(scene,0.4)"}}}, {Name: "null"}}},
		{"sws_flags=bicubic;scale=2:2", []Filter{{Name: "scale", Args: []FilterArg{{Position: 0, Value: "2"}, {Position: 1, Value: "2"}}}}},
		{" null , anull ", []Filter{{Name: "null"}, {Name: "anull"}}},
	} {
		g, err := ParseGraph(tc.graph)
		if err != nil {
			t.Errorf("ParseGraph(%q): %v", tc.graph, err)
			continue
		}
		if !reflect.DeepEqual(g.Filters, tc.want) {
			t.Errorf("ParseGraph(%q)\n got %+v\nwant %+v", tc.graph, g.Filters, tc.want)
		}
	}
}

func TestParseGraphRefusesWhatFFmpegRefuses(t *testing.T) {
	for _, graph := range []string{
		"", "scale=1:1,", "[in", "[]null", "scale=w=1:2", "=x", "sws_flags=bicubic", "null=a=1:=2",
	} {
		if g, err := ParseGraph(graph); err == nil {
			t.Errorf("ParseGraph(%q) = %+v, want an error", graph, g.Filters)
		}
	}
}

// The parser must read a graph exactly as ffmpeg does. With -v debug,
// libavfilter logs the instance it creates for each filter
// ("[Parsed_color_0 @ …]") and every option it sets ("Setting 'c' to value
// 'red'"), so the two readings can be compared directly.
func TestParseGraphMatchesFFmpeg(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	for _, graph := range []string{
		"color=c=red:d=0.04:s=16x16",
		"color=red:16x16:25:0.04",
		`co\lor=d=0.04:s=16x16`,
		`'color'=d=0.04:s=16x16`,
		`c'ol'or=d=0.04:s=16x16`,
		`color='c=blue:d=0.04':s=16x16`,
		`color=d=0.04:s=16x16,drawtext=text='a\:b':x=1`,
		`color=d=0.04:s=16x16,drawtext=te\xt=hello`,
		`color=d=0.04:s=16x16,drawtext='text'='x y'`,
		`color=d=0.04:s=16x16 , null ,scale=8:8`,
		`color=d=0.04:s=16x16,drawtext=text=a\\\:b\\\\c`,
		`color=d=0.04:s=16x16,drawtext=text='it'\''s'`,
		`color=d=0.04:s=16x16,select=e='gt(scene\,0.4)'`,
		`color=c=red@0.5:d=0.04:s=16x16`,
	} {
		t.Run(graph, func(t *testing.T) {
			out, _ := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "debug", "-f", "lavfi", "-i", graph,
				"-frames:v", "1", "-f", "null", "-").CombinedOutput()
			got := ffmpegSettings(string(out))
			g, err := ParseGraph(graph)
			if err != nil {
				t.Fatalf("ParseGraph: %v", err)
			}
			var want []string
			for i, f := range g.Filters {
				for _, a := range f.Args {
					key := a.Key
					if key == "" {
						key = allowedFilters[f.Name].positional[a.Position]
					}
					want = append(want, fmt.Sprintf("Parsed_%s_%d %s=%s", f.Name, i, key, a.Value))
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("ffmpeg set\n%s\nParseGraph read\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

var settingLine = regexp.MustCompile(`(?m)^\[(Parsed_\w+_\d+) @ [^\]]+\] Setting '([^']*)' to value '(.*)'$`)

func ffmpegSettings(log string) []string {
	var out []string
	for _, m := range settingLine.FindAllStringSubmatch(log, -1) {
		out = append(out, fmt.Sprintf("%s %s=%s", m[1], m[2], m[3]))
	}
	return out
}

// FuzzParseGraph: any text parses or fails without panicking, the same way
// twice, and every filter read has a name.
func FuzzParseGraph(f *testing.F) {
	for _, s := range []string{"scale=320:180", `[0:v]mo\vie='a\:b':x=1[o];[o]null`, "sws_flags=x;a=b=c:d", "'a'@b=c", "[a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGraph(s)
		again, err2 := ParseGraph(s)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(g, again) {
			t.Fatalf("ParseGraph(%q) is not deterministic", s)
		}
		if err != nil {
			return
		}
		for _, fl := range g.Filters {
			if fl.Name == "" {
				t.Fatalf("ParseGraph(%q) read a filter without a name", s)
			}
		}
	})
}
