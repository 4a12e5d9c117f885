package template_test

import (
	"fmt"

	"github.com/openrender/openrender/template"
)

func ExampleParse() {
	tmpl, err := template.Parse(template.Spec{
		Commands:     []string{`ffmpeg -i {{in_video}} -vf "scale=320:180,subtitles=<<in_subs>>" -metadata title="My Title" {{out_video}}`},
		CommandField: "ffmpeg_command",
		InputFiles:   map[string]string{"in_video": "https://example.com/clip.mp4", "in_subs": "https://example.com/clip.srt"},
		OutputFiles:  map[string]string{"out_video": "small.mp4"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The engine downloads the inputs and picks every path itself.
	argv, err := tmpl.Argv(0, map[string]string{
		"in_video":  "/jobs/42/in/in_video.mp4",
		"in_subs":   "/jobs/42/in/in_subs.srt",
		"out_video": "/jobs/42/out/small.mp4",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, arg := range argv {
		fmt.Printf("%q\n", arg)
	}

	// A request that breaks the rules gets every problem at once, each with
	// the location of the field at fault.
	_, err = template.Parse(template.Spec{
		Commands:     []string{"-i {{in_video}} {{out_video}}; rm -rf /"},
		CommandField: "ffmpeg_command",
		InputFiles:   map[string]string{"video": "https://example.com/clip.mp4"},
		OutputFiles:  map[string]string{"out_video": "../small.mp4"},
	})
	for _, fe := range err.(template.Errors) {
		fmt.Println(fe.Loc, fe.Msg)
	}
	// Output:
	// "-i"
	// "/jobs/42/in/in_video.mp4"
	// "-vf"
	// "scale=320:180,subtitles=/jobs/42/in/in_subs.srt"
	// "-metadata"
	// "title=My Title"
	// "/jobs/42/out/small.mp4"
	// [body input_files video] input alias "video" is not allowed: input aliases are "in_" followed by letters, digits or _ (for example "in_video")
	// [body output_files out_video] output file name "../small.mp4" contains a path separator; give a plain file name: use letters, digits, _ and - followed by one extension, for example "video.mp4"
	// [body ffmpeg_command] unquoted ';' at offset 29: OpenRender runs ffmpeg without a shell, so commands cannot be chained; if it is part of an argument, quote it, for example 'a;b'
}
