package policy

import (
	"strings"
	"testing"

	"github.com/openrender/openrender/template"
)

func check(t *testing.T, commands ...string) template.Errors {
	t.Helper()
	field := "ffmpeg_command"
	if len(commands) > 1 {
		field = "ffmpeg_commands"
	}
	tmpl, err := template.Parse(template.Spec{
		Commands:     commands,
		CommandField: field,
		InputFiles:   map[string]string{"in_video": "https://example.com/a.mp4", "in_subs": "https://example.com/a.srt"},
		OutputFiles:  map[string]string{"out_video": "out.mp4", "out_log": "log.txt"},
	})
	if err != nil {
		t.Fatalf("%s: %v", commands, err)
	}
	return Check(tmpl, field)
}

// Every command uses all four aliases, so that Parse's "declared but
// unused" rule never fires; the variable part is what is being tested.
const uses = " -i {{in_video}} -i {{in_subs}} -vf metadata=mode=print:file={{out_log}} "

func TestCheckAccepts(t *testing.T) {
	for _, c := range []string{
		uses + "-c:v libx264 -crf 23 -preset veryfast -c:a aac -b:a 128k {{out_video}}",
		uses + "-ss 00:00:05 -t 10 -r 30000/1001 -aspect 16:9 -map 0:v:0 -map 0:a? {{out_video}}",
		`-i {{in_video}} -i {{in_subs}} -filter_complex "[0:v]split[a][b];[a]scale=640:-2[x];[b]hflip[y];[x][y]hstack,metadata=print:file={{out_log}}" {{out_video}}`,
		`-i {{in_video}} -vf "subtitles={{in_subs}}:force_style='FontSize=24',metadata=mode=print:file={{out_log}}" -metadata title="My film" {{out_video}}`,
		`-i {{in_video}} -vf "subtitles=filename='{{in_subs}}',drawtext=text='Loading...':x=(w-text_w)/2:y=h-40,select='gt(scene\,0.4)',metadata=print:file={{out_log}}" {{out_video}}`,
		uses + "-f hls -hls_time 4 -hls_playlist_type vod -c:v copy {{out_video}}",
		uses + "-movflags +faststart -c:v:0 libx264 -b:a:0 96k -filter:a volume=0.5 -metadata:s:a:0 language=eng {{out_video}}",
		uses + "-x264-params keyint=48:min-keyint=48:scenecut=0 {{out_video}}",
		"-f lavfi -i color=c=black:s=64x48:d=1" + uses + "{{out_video}} -f null -",
		"-i {{in_video}} -i {{in_subs}} -attach {{in_subs}} -metadata:s:t mimetype=text/plain -vf metadata=print:file={{out_log}} {{out_video}}",
	} {
		if errs := check(t, c); len(errs) > 0 {
			t.Errorf("%s\nrefused: %v", c, errs)
		}
	}
}

func TestCheckAcceptsChainIntermediates(t *testing.T) {
	errs := check(t,
		"-i {{in_video}} -vf scale=32:24 -an tmp_scaled.mp4",
		"-i tmp_scaled.mp4 -i {{in_subs}} -vf hflip {{out_video}}",
		"-i {{out_video}} -vf metadata=print:file={{out_log}} -f null -")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	errs = check(t,
		"-i tmp_scaled.mp4 -i {{in_video}} -i {{in_subs}} {{out_video}}",
		"-i {{in_video}} -vf metadata=print:file={{out_log}} tmp_scaled.mp4")
	if len(errs) != 1 || errs[0].Loc[3] != "tmp_scaled.mp4" {
		t.Fatalf("reading an intermediate before it is written: %v", errs)
	}
}

// Each refusal names the offending word as the last element of its
// location and the token inside it in its message.
func TestCheckRefuses(t *testing.T) {
	for _, tc := range []struct{ command, word, msg string }{
		{"-i ../../openrender.db" + uses + "{{out_video}}", "../../openrender.db", "input placeholder"},
		{uses + "{{out_video}} -y /tmp/x.raw", "/tmp/x.raw", "output placeholder"},
		{"-f lavfi -i movie=/etc/passwd" + uses + "{{out_video}}", "movie=/etc/passwd", `"movie"`},
		{`-f lavfi -i mo\vie=x` + uses + "{{out_video}}", "movie=x", `"movie"`},
		{`-f lavfi -i "'movie'=x"` + uses + "{{out_video}}", "'movie'=x", `"movie"`},
		{`-f lavfi -i "[in]m'ov'ie=x"` + uses + "{{out_video}}", "[in]m'ov'ie=x", `"movie"`},
		{"-i http://169.254.169.254/latest" + uses + "{{out_video}}", "http://169.254.169.254/latest", "protocols"},
		{"-i 'concat:a.ts|b.ts'" + uses + "{{out_video}}", "concat:a.ts|b.ts", "protocols"},
		{"-f data -i subfile,,start,0,end,0,,:x" + uses + "{{out_video}}", "data", "data"},
		{uses + "{{out_video}} -f mpegts udp://127.0.0.1:9999", "udp://127.0.0.1:9999", "output placeholder"},
		{uses + "-vf drawtext=textfile=/etc/passwd {{out_video}}", "drawtext=textfile=/etc/passwd", "textfile"},
		{uses + `-vf "drawtext=text\file=/etc/passwd" {{out_video}}`, `drawtext=text\file=/etc/passwd`, "textfile"},
		{uses + "-dump_attachment:t '' {{out_video}}", "-dump_attachment:t", "dump_attachment"},
		{uses + "-/filter:v x.txt {{out_video}}", "-/filter:v", "from a file"},
		{uses + "-progress http://127.0.0.1:8765/ {{out_video}}", "-progress", "progress"},
		{uses + "-f tee 'a.mp4|[f=mpegts]/tmp/pwn.ts' {{out_video}}", "tee", "tee"},
		{uses + "-vf subtitles=/etc/passwd {{out_video}}", "subtitles=/etc/passwd", "filename"},
		{uses + "-hls_segment_filename /tmp/seg%d.ts {{out_video}}", "/tmp/seg%d.ts", "output placeholder"},
		{uses + "-- -evil.ts {{out_video}}", "--", "--"},
		{uses + "-vstats_file /tmp/x {{out_video}}", "-vstats_file", "vstats_file"},
		{uses + "-c:v h264_vaapi {{out_video}}", "h264_vaapi", "hardware"},
		{uses + "-vf scale=100000:100000 {{out_video}}", "scale=100000:100000", "8192"},
		{"-f lavfi -i testsrc" + uses + "{{out_video}}", "testsrc", "duration"},
		{uses + "-stream_loop -1 {{out_video}}", "-1", "whole number"},
		{uses + "-metadata title={{in_subs}} {{out_video}}", "title={{in_subs}}", "placeholder"},
		{uses + "-vf drawtext=text={{in_subs}} {{out_video}}", "drawtext=text={{in_subs}}", "placeholder"},
		{uses + "-vf subtitles={{in_subs}}x {{out_video}}", "subtitles={{in_subs}}x", "filename"},
		{uses + "{{out_video}} {{in_subs}}", "{{in_subs}}", "output placeholders"},
		{uses + "-x264-params dump-yuv=/tmp/x {{out_video}}", "dump-yuv=/tmp/x", "dump-yuv"},
		{uses + "-protocol_whitelist file,http {{out_video}}", "-protocol_whitelist", "protocol"},
		{uses + "-c:v:x! libx264 {{out_video}}", "-c:v:x!", "stream specifier"},
		{uses + "{{out_video}} - ", "-", "standard output"},
	} {
		errs := check(t, tc.command)
		found := false
		for _, e := range errs {
			if e.Loc[len(e.Loc)-1] == tc.word && strings.Contains(e.Msg, tc.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s\nwant a refusal at %q mentioning %q; got %v (%d: %+v)", tc.command, tc.word, tc.msg, errs, len(errs), errs)
		}
	}
}
