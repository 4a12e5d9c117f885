package engine

import (
	"strings"
	"testing"

	"github.com/openrender/openrender/template"
)

func guard(t *testing.T, command string) string {
	t.Helper()
	tmpl, err := template.Parse(template.Spec{
		Commands:    []string{command},
		InputFiles:  map[string]string{"in_video": "https://example.com/a.mp4", "in_subs": "https://example.com/a.srt"},
		OutputFiles: map[string]string{"out_video": "out.mp4"},
	})
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	problems := guardLiterals(tmpl, "ffmpeg_command")
	if len(problems) == 0 {
		return ""
	}
	return problems[0].Msg
}

// Commands people really send pass the guard.
func TestGuardAcceptsOrdinaryCommands(t *testing.T) {
	for _, c := range []string{
		"-i {{in_video}} -i {{in_subs}} -vf scale=iw/2:ih/2 -c:v libx264 -crf 23 -preset veryfast -c:a aac -b:a 128k {{out_video}}",
		"-ss 00:00:05 -i {{in_video}} -i {{in_subs}} -t 10 -r 30000/1001 -aspect 16:9 -map 0:v:0 -map 0:a? {{out_video}}",
		`-i {{in_video}} -i {{in_subs}} -filter_complex "[0:v]split[a][b];[a]scale=640:-2[x];[b]hflip[y];[x][y]hstack" {{out_video}}`,
		`-i {{in_video}} -vf "subtitles={{in_subs}}:force_style='FontSize=24'" -metadata title="My film" {{out_video}}`,
		`-i {{in_video}} -i {{in_subs}} -vf "drawtext=text='Loading...':x=(w-text_w)/2:y=h-40,select='gt(scene\,0.4)'" {{out_video}}`,
		"-i {{in_video}} -i {{in_subs}} -f hls -hls_time 4 -movflags +faststart -c:v copy {{out_video}}",
		"-i {{in_video}} -i {{in_subs}} -vf metadata=mode=print:file={{out_video}} -f null -",
	} {
		if msg := guard(t, c); msg != "" {
			t.Errorf("%s\nrefused: %s", c, msg)
		}
	}
}

// Literal arguments that name files outside the work dir, URLs or
// protocols are refused, also when escaped or quoted.
func TestGuardRefusesPathsAndURLs(t *testing.T) {
	for c, want := range map[string]string{
		"-i ../../openrender.db -i {{in_video}} -i {{in_subs}} {{out_video}}":                "..",
		"-i {{in_video}} -i {{in_subs}} {{out_video}} -y /tmp/x.raw":                         "outside",
		"-f lavfi -i movie=/etc/passwd -i {{in_video}} -i {{in_subs}} {{out_video}}":         "outside",
		`-f lavfi -i 'mo\vie=\/etc\/passwd' -i {{in_video}} -i {{in_subs}} {{out_video}}`:    "outside",
		"-f lavfi -i movie=\\.\\./\\.\\./x.mp4 -i {{in_video}} -i {{in_subs}} {{out_video}}": "..",
		"-i http://169.254.169.254/latest -i {{in_video}} -i {{in_subs}} {{out_video}}":      "URL",
		"-i 'concat:a.ts|b.ts' -i {{in_video}} -i {{in_subs}} {{out_video}}":                 "URL",
		"-f data -i subfile,,start,0,end,0,,:x -i {{in_video}} -i {{in_subs}} {{out_video}}": "URL",
		"-i {{in_video}} -i {{in_subs}} -f mpegts udp://127.0.0.1:9999 {{out_video}}":        "URL",
		"-i {{in_video}} -i {{in_subs}} -vf drawtext=textfile=~/.ssh/id_rsa {{out_video}}":   "outside",
		"-i {{in_video}} -i {{in_subs}} -dump_attachment:t '' {{out_video}}":                 "metadata",
		"-i {{in_video}} -i {{in_subs}} -/filter:v x.txt {{out_video}}":                      "from a file",
		"-i {{in_video}} -i {{in_subs}} -progress http://127.0.0.1:8765/ {{out_video}}":      "URL",
		"-i {{in_video}} -i {{in_subs}} -f tee 'a.mp4|[f=mpegts]/tmp/pwn.ts' {{out_video}}":  "outside",
		"-i {{in_video}} -i {{in_subs}} -vf subtitles=file\\\\:/etc/passwd {{out_video}}":    "URL",
		"-i {{in_video}} -i {{in_subs}} -hls_segment_filename /tmp/seg%d.ts {{out_video}}":   "outside",
	} {
		msg := guard(t, c)
		if msg == "" || !strings.Contains(msg, want) {
			t.Errorf("%s\nguard said %q, want a refusal mentioning %q", c, msg, want)
		}
	}
}
