package media

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The testdata/*.json files are ffprobe 5.1 output captured with
//
//	ffprobe -v error -print_format json -show_format -show_streams file:<name>
//
// on files made by ffmpeg's lavfi sources (see probe_test.go for the commands).
func TestParseFFprobeJSONCaptured(t *testing.T) {
	cases := []struct {
		capture  string
		fileName string
		want     string // Info as JSON, exactly
	}{
		{"mp4.json", "out.mp4",
			`{"duration":2,"file_type":"video","file_format":"mp4","mime_type":"video/mp4","codec":"h264","pixel_format":"yuv420p","width":320,"height":180,"frame_rate":25,"bitrate_video_kb":226.4,"bitrate_audio_kb":128,"sample_rate":48000,"channels":2}`},
		// An odd frame rate: 30000/1001 is NTSC's 29.97.
		{"ntsc_mp4.json", "ntsc.mp4",
			`{"duration":2.002,"file_type":"video","file_format":"mp4","mime_type":"video/mp4","codec":"h264","pixel_format":"yuv420p","width":320,"height":180,"frame_rate":29.97,"bitrate_video_kb":238.5,"bitrate_audio_kb":69.7,"sample_rate":44100,"channels":1}`},
		// The same mp4 content under another name is still described as mp4.
		{"mp4.json", "download.bin",
			`{"duration":2,"file_type":"video","file_format":"mp4","mime_type":"video/mp4","codec":"h264","pixel_format":"yuv420p","width":320,"height":180,"frame_rate":25,"bitrate_video_kb":226.4,"bitrate_audio_kb":128,"sample_rate":48000,"channels":2}`},
		// A display matrix rotating by 90 degrees swaps width and height.
		{"rot2_mp4.json", "portrait.mp4",
			`{"duration":2,"file_type":"video","file_format":"mp4","mime_type":"video/mp4","codec":"h264","pixel_format":"yuv420p","width":180,"height":320,"frame_rate":25,"bitrate_video_kb":226.4,"bitrate_audio_kb":128,"sample_rate":48000,"channels":2}`},
		// WebM/Matroska streams carry no bit_rate and opus/aac rates are
		// unknown, so neither bitrate can be derived: both are omitted.
		{"webm.json", "clip.webm",
			`{"duration":2.008,"file_type":"video","file_format":"webm","mime_type":"video/webm","codec":"vp9","pixel_format":"yuv420p","width":320,"height":180,"frame_rate":25,"sample_rate":48000,"channels":1}`},
		{"mkv.json", "clip.mkv",
			`{"duration":2.023,"file_type":"video","file_format":"mkv","mime_type":"video/x-matroska","codec":"h264","pixel_format":"yuv420p","width":320,"height":180,"frame_rate":25,"sample_rate":44100,"channels":1}`},
		// MPEG-TS: the video bit_rate is missing and derived from the total
		// minus the audio stream.
		{"ts.json", "segment_000.ts",
			`{"duration":2.023,"file_type":"video","file_format":"ts","mime_type":"video/mp2t","codec":"h264","pixel_format":"yuv420p","width":320,"height":180,"frame_rate":25,"bitrate_video_kb":285.4,"bitrate_audio_kb":71.4,"sample_rate":44100,"channels":1}`},
		// A playlist's format.bit_rate measures the playlist text, so it is
		// not used to derive a video bitrate.
		{"hls_m3u8.json", "index.m3u8",
			`{"duration":4,"file_type":"video","file_format":"m3u8","mime_type":"application/vnd.apple.mpegurl","codec":"h264","pixel_format":"yuv420p","width":320,"height":180,"frame_rate":25,"sample_rate":44100,"channels":1}`},
		// Still images: no duration, frame rate or bitrate even though ffprobe
		// reports 25/1 and (for jpg) a duration and bit_rate.
		{"png.json", "frame.png",
			`{"file_type":"image","file_format":"png","mime_type":"image/png","codec":"png","pixel_format":"rgb24","width":320,"height":180}`},
		{"jpg.json", "thumb.jpeg",
			`{"file_type":"image","file_format":"jpg","mime_type":"image/jpeg","codec":"mjpeg","pixel_format":"yuvj420p","width":320,"height":180}`},
		// An animated GIF is an image that keeps its duration and frame rate.
		{"gif.json", "anim.gif",
			`{"duration":1,"file_type":"image","file_format":"gif","mime_type":"image/gif","codec":"gif","pixel_format":"bgra","width":160,"height":90,"frame_rate":10}`},
		// A one-frame GIF is a still image; its avg_frame_rate is "0/0".
		{"one_gif.json", "still.gif",
			`{"file_type":"image","file_format":"gif","mime_type":"image/gif","codec":"gif","pixel_format":"bgra","width":160,"height":90}`},
		// ffprobe 5.1 cannot count APNG frames without decoding: a still image.
		{"apng.json", "anim.png",
			`{"file_type":"image","file_format":"png","mime_type":"image/png","codec":"apng","pixel_format":"rgb24","width":160,"height":90}`},
		// Cover art (an attached picture) does not make an mp3 a video.
		{"cover_mp3.json", "song.mp3",
			`{"duration":2.038,"file_type":"audio","file_format":"mp3","mime_type":"audio/mpeg","codec":"mp3","bitrate_audio_kb":64,"sample_rate":44100,"channels":1}`},
		{"wav.json", "tone.wav",
			`{"duration":2,"file_type":"audio","file_format":"wav","mime_type":"audio/wav","codec":"pcm_s16le","bitrate_audio_kb":705.6,"sample_rate":44100,"channels":1}`},
		// Ogg Opus states no stream bit_rate; a single audio stream takes the
		// container's.
		{"opus.json", "voice.opus",
			`{"duration":2.007,"file_type":"audio","file_format":"opus","mime_type":"audio/ogg","codec":"opus","bitrate_audio_kb":76,"sample_rate":48000,"channels":1}`},
		{"srt.json", "subs.srt",
			`{"file_type":"other","file_format":"srt","mime_type":"application/x-subrip","codec":"subrip"}`},
	}
	for _, tc := range cases {
		t.Run(tc.fileName, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.capture))
			if err != nil {
				t.Fatal(err)
			}
			info, err := ParseFFprobeJSON(data, tc.fileName)
			if err != nil {
				t.Fatalf("ParseFFprobeJSON: %v", err)
			}
			assertInfoJSON(t, info, tc.want)
		})
	}
}

func TestParseFFprobeJSONNotMedia(t *testing.T) {
	cases := map[string]string{
		// What ffprobe prints for a text file, with exit status 1.
		"empty object": `{}`,
		"no streams":   `{"streams": [], "format": {"format_name": "mp3"}}`,
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseFFprobeJSON([]byte(input), "x.mp4")
			if !errors.Is(err, ErrNotMedia) {
				t.Fatalf("err = %v, want ErrNotMedia", err)
			}
		})
	}
	t.Run("truncated png", func(t *testing.T) {
		// ffprobe exits 0 but cannot decode the picture: width and height are 0.
		data, err := os.ReadFile(filepath.Join("testdata", "trunc_png.json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseFFprobeJSON(data, "broken.png"); !errors.Is(err, ErrNotMedia) {
			t.Fatalf("err = %v, want ErrNotMedia", err)
		}
	})
}

func TestParseFFprobeJSONRejectsGarbage(t *testing.T) {
	_, err := ParseFFprobeJSON([]byte(`not json`), "x.mp4")
	if err == nil || errors.Is(err, ErrNotMedia) {
		t.Fatalf("err = %v, want a decode error that is not ErrNotMedia", err)
	}
}

func TestParseFFprobeJSONEdgeCases(t *testing.T) {
	cases := []struct {
		name     string
		fileName string
		input    string
		want     string
	}{
		{
			name:     "frame rate 0/0 everywhere is omitted",
			fileName: "x.mp4",
			input: `{"streams":[{"codec_type":"video","codec_name":"h264","width":64,"height":64,
				"avg_frame_rate":"0/0","r_frame_rate":"0/0","bit_rate":"1000"}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"1.0"}}`,
			want: `{"duration":1,"file_type":"video","file_format":"mp4","mime_type":"video/mp4","codec":"h264","width":64,"height":64,"bitrate_video_kb":1}`,
		},
		{
			name:     "avg 0/0 falls back to r_frame_rate",
			fileName: "x.mp4",
			input: `{"streams":[{"codec_type":"video","codec_name":"h264","width":64,"height":64,
				"avg_frame_rate":"0/0","r_frame_rate":"24000/1001"}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"1.0","bit_rate":"500000"}}`,
			want: `{"duration":1,"file_type":"video","file_format":"mp4","mime_type":"video/mp4","codec":"h264","width":64,"height":64,"frame_rate":23.976,"bitrate_video_kb":500}`,
		},
		{
			name:     "missing video bit_rate is total minus audio",
			fileName: "x.mkv",
			input: `{"streams":[
				{"codec_type":"video","codec_name":"h264","width":64,"height":64,"avg_frame_rate":"25/1"},
				{"codec_type":"audio","codec_name":"aac","sample_rate":"48000","channels":2,"bit_rate":"128000"}],
				"format":{"format_name":"matroska,webm","duration":"3.14159","bit_rate":"1128000"}}`,
			want: `{"duration":3.142,"file_type":"video","file_format":"mkv","mime_type":"video/x-matroska","codec":"h264","width":64,"height":64,"frame_rate":25,"bitrate_video_kb":1000,"bitrate_audio_kb":128,"sample_rate":48000,"channels":2}`,
		},
		{
			name:     "missing bit_rate everywhere is omitted",
			fileName: "x.webm",
			input: `{"streams":[
				{"codec_type":"video","codec_name":"vp9","width":64,"height":64,"avg_frame_rate":"30/1"},
				{"codec_type":"audio","codec_name":"opus","sample_rate":"48000","channels":2}],
				"format":{"format_name":"matroska,webm","duration":"1.5","bit_rate":"900000"}}`,
			want: `{"duration":1.5,"file_type":"video","file_format":"webm","mime_type":"video/webm","codec":"vp9","width":64,"height":64,"frame_rate":30,"sample_rate":48000,"channels":2}`,
		},
		{
			name:     "mkvmerge BPS tags and DURATION tags",
			fileName: "x.mkv",
			input: `{"streams":[
				{"codec_type":"video","codec_name":"hevc","width":64,"height":64,"avg_frame_rate":"50/1","tags":{"BPS-eng":"2000000","DURATION-eng":"00:01:02.500000000"}},
				{"codec_type":"audio","codec_name":"ac3","sample_rate":"48000","channels":6,"tags":{"BPS":"384000","DURATION":"00:01:02.000000000"}}],
				"format":{"format_name":"matroska,webm"}}`,
			want: `{"duration":62.5,"file_type":"video","file_format":"mkv","mime_type":"video/x-matroska","codec":"hevc","width":64,"height":64,"frame_rate":50,"bitrate_video_kb":2000,"bitrate_audio_kb":384,"sample_rate":48000,"channels":6}`,
		},
		{
			name:     "numbers written as JSON numbers, rotate tag, default stream",
			fileName: "x.mov",
			input: `{"streams":[
				{"codec_type":"video","codec_name":"mjpeg","width":100,"height":50,"avg_frame_rate":"10/1","bit_rate":8000,"tags":{"rotate":"270"}},
				{"codec_type":"video","codec_name":"prores","width":1920,"height":1080,"avg_frame_rate":"24/1","bit_rate":100000000,"disposition":{"default":1}},
				{"codec_type":"audio","codec_name":"pcm_s24le","sample_rate":96000,"channels":2,"bit_rate":4608000}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":10,"tags":{"major_brand":"qt  "}}}`,
			want: `{"duration":10,"file_type":"video","file_format":"mov","mime_type":"video/quicktime","codec":"prores","width":1920,"height":1080,"frame_rate":24,"bitrate_video_kb":100000,"bitrate_audio_kb":4608,"sample_rate":96000,"channels":2}`,
		},
		{
			name:     "major brand names an m4a without extension",
			fileName: "upload",
			input: `{"streams":[{"codec_type":"audio","codec_name":"aac","sample_rate":"44100","channels":2,"bit_rate":"96000"}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"N/A","tags":{"major_brand":"M4A "}}}`,
			want: `{"file_type":"audio","file_format":"m4a","mime_type":"audio/mp4","codec":"aac","bitrate_audio_kb":96,"sample_rate":44100,"channels":2}`,
		},
		{
			name:     "audio-only webm",
			fileName: "voice.webm",
			input: `{"streams":[{"codec_type":"audio","codec_name":"opus","sample_rate":"48000","channels":1}],
				"format":{"format_name":"matroska,webm","duration":"2","bit_rate":"32000"}}`,
			want: `{"duration":2,"file_type":"audio","file_format":"webm","mime_type":"audio/webm","codec":"opus","bitrate_audio_kb":32,"sample_rate":48000,"channels":1}`,
		},
		{
			name:     "only cover art and data is other",
			fileName: "x.mp4",
			input: `{"streams":[{"codec_type":"video","codec_name":"png","width":10,"height":10,"disposition":{"attached_pic":1}},
				{"codec_type":"data","codec_name":"bin_data"}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2"}}`,
			want: `{"file_type":"other","file_format":"mp4","mime_type":"video/mp4","codec":"png"}`,
		},
		{
			name:     "longest stream duration when the container has none",
			fileName: "x.ts",
			input: `{"streams":[{"codec_type":"audio","codec_name":"mp2","duration":"4.5"},{"codec_type":"audio","codec_name":"mp2","duration":"5.25"}],
				"format":{"format_name":"mpegts"}}`,
			want: `{"duration":5.25,"file_type":"audio","file_format":"ts","mime_type":"video/mp2t","codec":"mp2"}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := ParseFFprobeJSON([]byte(tc.input), tc.fileName)
			if err != nil {
				t.Fatalf("ParseFFprobeJSON: %v", err)
			}
			assertInfoJSON(t, info, tc.want)
		})
	}
}

func TestParseRational(t *testing.T) {
	cases := map[string]float64{
		"25/1":       25,
		"30000/1001": 30000.0 / 1001,
		"0/0":        0,
		"0/1":        0,
		"1/0":        0,
		"":           0,
		"N/A":        0,
		"-25/1":      0,
		"12.5":       12.5,
	}
	for text, want := range cases {
		got, ok := parseRational(text)
		if ok != (want > 0) || got != want {
			t.Errorf("parseRational(%q) = %v, %v; want %v", text, got, ok, want)
		}
	}
}

func TestMimeType(t *testing.T) {
	cases := []struct{ fileName, fileType, want string }{
		{"a.mp4", "video", "video/mp4"},
		{"A.MP4", "", "video/mp4"},
		{"a.m4a", "audio", "audio/mp4"},
		{"a.mkv", "video", "video/x-matroska"},
		{"a.webm", "video", "video/webm"},
		{"a.webm", "audio", "audio/webm"},
		{"a.mp3", "audio", "audio/mpeg"},
		{"index.m3u8", "video", "application/vnd.apple.mpegurl"},
		{"seg_001.ts", "video", "video/mp2t"},
		{"a.srt", "other", "application/x-subrip"},
		{"a.vtt", "other", "text/vtt"},
		{"a.wav", "audio", "audio/wav"},
		{"a.flac", "audio", "audio/flac"},
		{"a.ogg", "audio", "audio/ogg"},
		{"a.ogg", "video", "video/ogg"},
		{"a.oga", "audio", "audio/ogg"},
		{"a.opus", "audio", "audio/ogg"},
		{"a.aac", "audio", "audio/aac"},
		{"a.gif", "image", "image/gif"},
		{"a.png", "image", "image/png"},
		{"a.jpg", "image", "image/jpeg"},
		{"a.jpeg", "image", "image/jpeg"},
		{"a.webp", "image", "image/webp"},
		{"a.mov", "video", "video/quicktime"},
		{"a.3gp", "audio", "audio/3gpp"},
		{"/work/dir/a.avi", "video", "video/x-msvideo"},
		{"noextension", "video", "application/octet-stream"},
		{"a.xyz", "", "application/octet-stream"},
	}
	for _, tc := range cases {
		if got := MimeType(tc.fileName, tc.fileType); got != tc.want {
			t.Errorf("MimeType(%q, %q) = %q, want %q", tc.fileName, tc.fileType, got, tc.want)
		}
	}
}

func TestFFprobeReasonHidesDirectory(t *testing.T) {
	stderr := "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55bdfb0a11c0] moov atom not found\n" +
		"file:text.mp4: Invalid data found when processing input\n" +
		"/srv/work/cmd-1/text.mp4: something else\n" +
		"file:text.mp4: Invalid data found when processing input\n"
	got := ffprobeReason(stderr, "/srv/work/cmd-1/", "text.mp4", "file:text.mp4")
	want := "moov atom not found; Invalid data found when processing input; something else"
	if got != want {
		t.Fatalf("reason = %q\nwant     %q", got, want)
	}
}

func assertInfoJSON(t *testing.T, info Info, want string) {
	t.Helper()
	got, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("info =\n  %s\nwant\n  %s", got, want)
	}
}
