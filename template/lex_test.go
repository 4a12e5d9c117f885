package template

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func lit(s string) Part { return Part{Literal: s} }
func ph(a string) Part  { return Part{Alias: a} }
func w(p ...Part) Word  { return append(Word{}, p...) }
func lw(s string) Word  { return Word{lit(s)} }
func lws(s ...string) []Word {
	out := make([]Word, len(s))
	for i, x := range s {
		out[i] = lw(x)
	}
	return out
}

type lexCase struct {
	name    string
	command string
	want    []Word
}

// lexAccepted are commands Lex must accept, with the exact words.
var lexAccepted = []lexCase{
	// word splitting and the program name
	{"plain words", "-i a.mp4 b.mp4", lws("-i", "a.mp4", "b.mp4")},
	{"tabs and runs of spaces", "-i\t a.mp4  \t b.mp4", lws("-i", "a.mp4", "b.mp4")},
	{"leading ffmpeg dropped", "ffmpeg -i a.mp4", lws("-i", "a.mp4")},
	{"ffmpeg only dropped once", "ffmpeg ffmpeg", lws("ffmpeg")},
	{"ffmpeg later is a word", "-i ffmpeg", lws("-i", "ffmpeg")},
	{"quoted ffmpeg is a word", "'ffmpeg' -i a", lws("ffmpeg", "-i", "a")},
	{"escaped ffmpeg is a word", `ff\mpeg -i a`, lws("ffmpeg", "-i", "a")},
	{"ffmpeg.exe is a word", "ffmpeg.exe -i a", lws("ffmpeg.exe", "-i", "a")},
	{"leading and trailing blanks", " \t-y  ", lws("-y")},

	// quoting forms
	{"single quotes", `-vf 'scale=320:180, hflip'`, lws("-vf", "scale=320:180, hflip")},
	{"single quotes keep backslash", `'a\b\'`, lws(`a\b\`)},
	{"single quotes keep dollar and backtick", "'$HOME `id`'", lws("$HOME `id`")},
	{"double quotes", `-metadata title="My Title"`, lws("-metadata", "title=My Title")},
	{"double quote escapes", `"a\"b\\c\$d\` + "`" + `e"`, lws("a\"b\\c$d`e")},
	{"double quote other backslash stays", `"a\nb\:c"`, lws(`a\nb\:c`)},
	{"double quotes keep dollar and backtick", "\"$HOME `id` $(x)\"", lws("$HOME `id` $(x)")},
	{"single quote inside double", `"it's"`, lws("it's")},
	{"double quote inside single", `'say "hi"'`, lws(`say "hi"`)},
	{"joined segments", `a'b c'"d"`, lws("ab cd")},
	{"joined with escape", `a\ b`, lws("a b")},
	{"empty single quotes", `-metadata ''`, []Word{lw("-metadata"), w()}},
	{"empty double quotes", `"" x`, []Word{w(), lw("x")}},
	{"empty quotes joined vanish", `a''b`, lws("ab")},
	{"newline inside quotes", "-metadata 'comment=line one\nline two'", lws("-metadata", "comment=line one\nline two")},
	{"CRLF inside quotes", "\"a\r\nb\"", lws("a\r\nb")},

	// escapes outside quotes
	{"escaped semicolon", `a\;b`, lws("a;b")},
	{"escaped metacharacters", "\\|\\&\\$\\`\\<\\>", lws("|&$`<>")},
	{"escaped quote", `\'x\"`, lws(`'x"`)},
	{"escaped backslash", `a\\b`, lws(`a\b`)},
	{"escaped multibyte", `\é`, lws("é")},

	// line continuation
	{"continuation between words", "-i a.mp4 \\\n  -vf hflip \\\n  out.mp4", lws("-i", "a.mp4", "-vf", "hflip", "out.mp4")},
	{"continuation CRLF", "-i a.mp4 \\\r\n  out.mp4", lws("-i", "a.mp4", "out.mp4")},
	{"continuation inside a word", "ab\\\ncd", lws("abcd")},
	{"continuation inside double quotes", "\"ab\\\ncd\"", lws("abcd")},
	{"continuation CRLF inside double quotes", "\"ab\\\r\ncd\"", lws("abcd")},
	{"no continuation inside single quotes", "'ab\\\ncd'", lws("ab\\\ncd")},
	{"trailing newline ignored", "-i a.mp4 out.mp4\n", lws("-i", "a.mp4", "out.mp4")},
	{"trailing CRLF and blanks ignored", "-i a.mp4\r\n \n", lws("-i", "a.mp4")},
	{"leading newline ignored", "\n  ffmpeg -y", lws("-y")},

	// placeholders in every context and both syntaxes
	{"braces unquoted", "-i {{in_video}} {{out_video}}", []Word{lw("-i"), w(ph("in_video")), w(ph("out_video"))}},
	{"angles unquoted", "-i <<in_video>> <<out_video>>", []Word{lw("-i"), w(ph("in_video")), w(ph("out_video"))}},
	{"braces inner spaces", "-i {{ in_video }}", []Word{lw("-i"), w(ph("in_video"))}},
	{"angles inner spaces and tabs", "-i << \tin_video >>", []Word{lw("-i"), w(ph("in_video"))}},
	{"braces in single quotes", "-vf 'subtitles={{in_subs}}'", []Word{lw("-vf"), w(lit("subtitles="), ph("in_subs"))}},
	{"angles in single quotes", "-vf 'subtitles=<<in_subs>>'", []Word{lw("-vf"), w(lit("subtitles="), ph("in_subs"))}},
	{"braces in double quotes", `-vf "subtitles={{ in_subs }}:force_style='x'"`, []Word{lw("-vf"), w(lit("subtitles="), ph("in_subs"), lit(":force_style='x'"))}},
	{"angles in double quotes", `"<<in_a>>"`, []Word{w(ph("in_a"))}},
	{"placeholder joined to text", "file={{out_log}}.txt", []Word{w(lit("file="), ph("out_log"), lit(".txt"))}},
	{"two placeholders in a word", "{{in_a}}{{in_b}}", []Word{w(ph("in_a"), ph("in_b"))}},
	{"placeholder after backslash in double quotes", `"\{{in_a}}"`, []Word{w(lit(`\`), ph("in_a"))}},
	{"brace after placeholder", "{{in_a}}}", []Word{w(ph("in_a"), lit("}"))}},
	{"single braces are text", "'%{pts\\:hms}'", lws(`%{pts\:hms}`)},
	{"closing braces alone are text", "}} a}}", lws("}}", "a}}")},
	{"angles in quotes not a placeholder", `'a << b c' "<<>>" '<<in-x>>' 'x<<y'`, lws("a << b c", "<<>>", "<<in-x>>", "x<<y")},
	{"angles in quotes that do form a placeholder", `'a << b >> c'`, []Word{w(lit("a "), ph("b"), lit(" c"))}},
	{"third angle before placeholder", "'<<<in_a>>'", []Word{w(lit("<"), ph("in_a"))}},
	{"placeholder name any case", "{{In_Video2}}", []Word{w(ph("In_Video2"))}},
	{"undeclared-looking names still lex", "{{video}}", []Word{w(ph("video"))}},

	// each shell metacharacter is fine when quoted
	{"quoted semicolon", `';' ";"`, lws(";", ";")},
	{"quoted pipe", `'|' "|"`, lws("|", "|")},
	{"quoted ampersand", `'&' "&"`, lws("&", "&")},
	{"quoted dollar", `'$' "$"`, lws("$", "$")},
	{"quoted backtick", "'`' \"`\"", lws("`", "`")},
	{"quoted less-than", `'<' "<"`, lws("<", "<")},
	{"quoted greater-than", `'>' ">"`, lws(">", ">")},
	{"quoted newline", "'\n' \"\n\"", lws("\n", "\n")},

	// characters a shell would glob or treat specially but we do not
	{"no globbing or comments", "*.mp4 a?b [0:v] #ff0000 ~ ( ) ! {a,b}", lws("*.mp4", "a?b", "[0:v]", "#ff0000", "~", "(", ")", "!", "{a,b}")},
	{"unicode text", "-metadata title='Café ☕'", lws("-metadata", "title=Café ☕")},

	// real-world ffmpeg commands
	{
		"filter_complex",
		`ffmpeg -i {{in_a}} -i {{in_b}} -filter_complex "[0:v]scale=1280:720[v0];[1:v]scale=1280:720[v1];[v0][v1]hstack=inputs=2[v]" -map "[v]" {{out_video}}`,
		[]Word{lw("-i"), w(ph("in_a")), lw("-i"), w(ph("in_b")), lw("-filter_complex"),
			lw("[0:v]scale=1280:720[v0];[1:v]scale=1280:720[v1];[v0][v1]hstack=inputs=2[v]"), lw("-map"), lw("[v]"), w(ph("out_video"))},
	},
	{
		"filter_complex unquoted labels",
		`-filter_complex [0:v]scale=320:-2[v] -map [v]`,
		lws("-filter_complex", "[0:v]scale=320:-2[v]", "-map", "[v]"),
	},
	{
		"drawtext with escaped colon",
		`-i {{in_video}} -vf "drawtext=text='Time\: %{pts\:hms}':fontsize=24:x=10:y=10" {{out_video}}`,
		[]Word{lw("-i"), w(ph("in_video")), lw("-vf"), lw(`drawtext=text='Time\: %{pts\:hms}':fontsize=24:x=10:y=10`), w(ph("out_video"))},
	},
	{
		"drawtext in single quotes",
		`-vf 'drawtext=text=Hello\: World:fontcolor=white'`,
		lws("-vf", `drawtext=text=Hello\: World:fontcolor=white`),
	},
	{
		"metadata title",
		`-i {{in_video}} -metadata title="My Title" -c copy {{out_video}}`,
		[]Word{lw("-i"), w(ph("in_video")), lw("-metadata"), lw("title=My Title"), lw("-c"), lw("copy"), w(ph("out_video"))},
	},
	{
		"select first frame",
		`-i {{in_video}} -vf select='eq(n\,0)' -frames:v 1 {{out_thumb}}`,
		[]Word{lw("-i"), w(ph("in_video")), lw("-vf"), lw(`select=eq(n\,0)`), lw("-frames:v"), lw("1"), w(ph("out_thumb"))},
	},
	{
		"select unquoted with backslash comma",
		`-vf select=eq(n\,0)`,
		lws("-vf", "select=eq(n,0)"),
	},
	{
		"null output",
		`-f lavfi -i testsrc=duration=1:size=320x240:rate=10 -f null -`,
		lws("-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10", "-f", "null", "-"),
	},
	{
		"metadata print to output file",
		`-i {{in_video}} -vf "select='gt(scene,0.4)',metadata=mode=print:file=<<out_scenes>>" -f null -`,
		[]Word{lw("-i"), w(ph("in_video")), lw("-vf"), w(lit("select='gt(scene,0.4)',metadata=mode=print:file="), ph("out_scenes")), lw("-f"), lw("null"), lw("-")},
	},
	{
		"multi-line paste",
		"ffmpeg -i {{in_video}} \\\n  -c:v libx264 -preset veryfast \\\n  -c:a aac \\\n  {{out_video}}\n",
		[]Word{lw("-i"), w(ph("in_video")), lw("-c:v"), lw("libx264"), lw("-preset"), lw("veryfast"), lw("-c:a"), lw("aac"), w(ph("out_video"))},
	},
}

type lexRejectCase struct {
	name    string
	command string
	offset  int
	token   string
	msgHas  []string
}

const noShell = "without a shell"

// lexRejected are commands Lex must refuse, with the error's offset and token
// and words its message must contain.
var lexRejected = []lexRejectCase{
	{"semicolon", "-i {{in_video}} {{out_video}}; id", 29, ";", []string{"';'", "offset 29", noShell, "quote it"}},
	{"pipe", "-i a | sh", 5, "|", []string{"'|'", "offset 5", noShell, "quote it"}},
	{"ampersand", "-i a & b", 5, "&", []string{"'&'", "offset 5", noShell}},
	{"double ampersand", "-i a&&b", 4, "&", []string{"'&'", "offset 4"}},
	{"dollar", "-i $HOME/a", 3, "$", []string{"'$'", "offset 3", noShell, "quote it"}},
	{"command substitution", "-i $(id)", 3, "$", []string{"'$'"}},
	{"backtick", "-i `id`", 3, "`", []string{"'`'", "offset 3", noShell}},
	{"less-than", "-i a < b", 5, "<", []string{"'<'", "offset 5", noShell}},
	{"greater-than", "-i a > b", 5, ">", []string{"'>'", "offset 5", noShell}},
	{"append redirect", "a >>b", 2, ">", []string{"'>'"}},
	{"stderr redirect", "-i a 2>&1", 6, ">", []string{"'>'", "offset 6"}},
	{"angles unquoted not a placeholder", "-i <<in-x>>", 3, "<", []string{"'<'"}},
	{"heredoc", "cat <<EOF", 4, "<", []string{"'<'"}},
	{"newline between words", "-i a\n-vf hflip", 4, "\n", []string{"line break", "offset 4", noShell}},
	{"CRLF between words", "-i a\r\n-y", 4, "\r", []string{"carriage return", "offset 4"}},
	{"newline after ffmpeg", "ffmpeg\n-y", 6, "\n", []string{"line break"}},
	{"blank line ends a continuation", "-i a \\\n\n-y", 7, "\n", []string{"line break"}},

	{"unbalanced single", "-vf 'scale=1:1", 4, "'", []string{"unbalanced ' quote", "offset 4"}},
	{"unbalanced double", `-metadata title="x`, 16, `"`, []string{`unbalanced " quote`, "offset 16"}},
	{"escaped closing double quote", `"abc\"`, 0, `"`, []string{"unbalanced"}},
	{"trailing backslash", `-i a\`, 4, `\`, []string{"trailing backslash", "offset 4"}},

	{"NUL", "-i a\x00b", 4, "\x00", []string{"U+0000", "offset 4"}},
	{"NUL in quotes", "'\x00'", 1, "\x00", []string{"U+0000"}},
	{"escape char", "-i \x1b[31m", 3, "\x1b", []string{"U+001B"}},
	{"DEL", "a\x7f", 1, "\x7f", []string{"U+007F"}},
	{"C1 control", "a\u0085", 1, "\u0085", []string{"U+0085"}},
	{"vertical tab", "a\vb", 1, "\v", []string{"U+000B"}},
	{"form feed in quotes", "\"a\fb\"", 2, "\f", []string{"U+000C"}},
	{"invalid UTF-8", "a\xffb", 1, "\xff", []string{"UTF-8", "offset 1"}},

	{"empty", "", 0, "", []string{"empty"}},
	{"only blanks", " \t\n", 3, "", []string{"empty"}},
	{"only ffmpeg", "ffmpeg", 6, "", []string{"no arguments after ffmpeg"}},
	{"only ffmpeg and blanks", "  ffmpeg \n", 10, "", []string{"no arguments after ffmpeg"}},

	{"empty braces", "-i {{}}", 3, "{{}}", []string{"malformed placeholder {{}}", "offset 3"}},
	{"dash in name", "-i {{in-video}}", 3, "{{in-video}}", []string{"malformed placeholder {{in-video}}"}},
	{"space in name", "-i {{in video}}", 3, "{{in video}}", []string{"malformed placeholder {{in video}}"}},
	{"unclosed braces", "-i {{in_video} out.mp4", 3, "{{in_video}", []string{"malformed placeholder {{in_video}"}},
	{"braces at end", "a{{", 1, "{{", []string{"malformed placeholder {{"}},
	{"triple braces", "{{{in_a}}}", 0, "{{{in_a}}", []string{"malformed placeholder"}},
	{"braces in single quotes", "'{{ x y }}'", 1, "{{ x y }}", []string{"malformed placeholder {{ x y }}"}},
	{"braces in double quotes", `"{{$x}}"`, 1, "{{$x}}", []string{"malformed placeholder {{$x}}"}},
	{"placeholder across a quote", "'{{in_a'}}", 1, "{{in_a'}}", []string{"malformed placeholder"}},
	{"mixed brackets", "{{in_a>>", 0, "{{in_a>>", []string{"malformed placeholder"}},
	{"braces assembled by quotes", "'{'{in_a}}", 1, "{{", []string{`"{{" at offset 1`, "reserved"}},
	{"braces assembled by escape", `\{{in_a}}`, 1, "{{", []string{`"{{" at offset 1`}},
	{"braces assembled by empty quotes", `{''{in_a}}`, 0, "{{", []string{`"{{"`}},
	{"angles assembled by quotes", `'<''<in_a>>'`, 1, "<<in_a>>", []string{"<<in_a>> at offset 1", "split by quotes or escapes"}},
	{"angles assembled by escapes", `\<\<in_a\>\>`, 1, "<<in_a>>", []string{"<<in_a>>", "split"}},
	{"assembled before a real placeholder", `'<''<in_a>>'{{in_b}}`, 1, "<<in_a>>", []string{"<<in_a>>"}},
}

func TestLexAccepted(t *testing.T) {
	for _, tc := range lexAccepted {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Lex(tc.command)
			if err != nil {
				t.Fatalf("Lex(%q) error: %v", tc.command, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Lex(%q)\n got  %#v\n want %#v", tc.command, got, tc.want)
			}
		})
	}
}

func TestLexRejected(t *testing.T) {
	for _, tc := range lexRejected {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Lex(tc.command)
			if err == nil {
				t.Fatalf("Lex(%q) = %#v, want an error", tc.command, got)
			}
			var le *LexError
			if !errors.As(err, &le) {
				t.Fatalf("error is %T, want *LexError", err)
			}
			if le.Offset != tc.offset || le.Token != tc.token {
				t.Errorf("Lex(%q): offset %d token %q, want offset %d token %q (msg %q)", tc.command, le.Offset, le.Token, tc.offset, tc.token, le.Msg)
			}
			for _, s := range tc.msgHas {
				if !strings.Contains(le.Msg, s) {
					t.Errorf("Lex(%q) message %q lacks %q", tc.command, le.Msg, s)
				}
			}
			if le.Error() != le.Msg {
				t.Errorf("Error() = %q, want Msg", le.Error())
			}
		})
	}
}

func TestWordHelpers(t *testing.T) {
	cases := []struct {
		word  Word
		str   string
		alias string
		ok    bool
	}{
		{w(ph("in_a")), "{{in_a}}", "in_a", true},
		{w(lit("x="), ph("in_a")), "x={{in_a}}", "", false},
		{w(ph("in_a"), ph("in_b")), "{{in_a}}{{in_b}}", "", false},
		{lw("-i"), "-i", "", false},
		{w(), "", "", false},
	}
	for _, tc := range cases {
		if got := tc.word.String(); got != tc.str {
			t.Errorf("%#v.String() = %q, want %q", tc.word, got, tc.str)
		}
		alias, ok := tc.word.IsPlaceholder()
		if alias != tc.alias || ok != tc.ok {
			t.Errorf("%#v.IsPlaceholder() = %q, %v; want %q, %v", tc.word, alias, ok, tc.alias, tc.ok)
		}
	}
	// The angle form is shown in the brace form, as documented.
	words, err := Lex("<< in_a >>")
	if err != nil || words[0].String() != "{{in_a}}" {
		t.Errorf("Lex(<< in_a >>) = %v, %v", words, err)
	}
}

// TestLexRoundTrip checks that words rendered back into a command with
// single quotes lex to the same words, which pins down that Lex's output is
// canonical and that quoting never changes meaning.
func TestLexRoundTrip(t *testing.T) {
	for _, tc := range lexAccepted {
		words, err := Lex(tc.command)
		if err != nil {
			t.Fatalf("Lex(%q): %v", tc.command, err)
		}
		checkRoundTrip(t, tc.command, words)
	}
}

// quoteWords renders words as a command that Lex reads back as the same
// words: literals in single quotes, placeholders bare.
func quoteWords(words []Word) string {
	var b strings.Builder
	for i, word := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(word) == 0 {
			b.WriteString("''")
		}
		for _, p := range word {
			if p.Alias != "" {
				b.WriteString("{{" + p.Alias + "}}")
				continue
			}
			b.WriteString("'" + strings.ReplaceAll(p.Literal, "'", `'\''`) + "'")
		}
	}
	return b.String()
}

func checkRoundTrip(t *testing.T, command string, words []Word) {
	t.Helper()
	again := quoteWords(words)
	got, err := Lex(again)
	if err != nil {
		t.Fatalf("Lex(%q) accepted, but its re-quoted form %q fails: %v", command, again, err)
	}
	if !reflect.DeepEqual(got, words) {
		t.Fatalf("round trip of %q through %q\n got  %#v\n want %#v", command, again, got, words)
	}
}
