package engine

import (
	"time"

	"github.com/openrender/openrender/store"
)

// The system presets ship with the engine: every account sees them (listed
// before its own presets) and may execute them; none may change or delete
// them. Their ids are fixed, so scripts can name them. To change one (say
// the thumbnail's time), create your own preset from its fields.

// systemPresetTime is the created_at and updated_at of every system preset.
var systemPresetTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var systemPresets = []*store.Preset{
	{
		ID:             "prs_system_mp4_720p",
		Name:           "MP4 to 720p H.264",
		Description:    "Scales a video to 720 pixels high (width kept in proportion) as H.264 with AAC sound, ready for progressive playback.",
		CommandType:    store.TypeFFmpegCommand,
		FFmpegCommands: []string{"-i {{in_video}} -vf scale=-2:720 -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p -c:a aac -b:a 128k -movflags +faststart {{out_video}}"},
		InputFileKeys:  []string{"in_video"},
		OutputFiles:    map[string]string{"out_video": "video_720p.mp4"},
	},
	{
		ID:             "prs_system_extract_mp3",
		Name:           "Extract audio to MP3",
		Description:    "Extracts the sound of a video (or converts any audio) to a variable-bit-rate MP3.",
		CommandType:    store.TypeFFmpegCommand,
		FFmpegCommands: []string{"-i {{in_media}} -vn -c:a libmp3lame -q:a 2 {{out_audio}}"},
		InputFileKeys:  []string{"in_media"},
		OutputFiles:    map[string]string{"out_audio": "audio.mp3"},
	},
	{
		ID:             "prs_system_thumbnail",
		Name:           "Thumbnail at 1 second",
		Description:    "Takes the frame at 1 second as a JPEG. For another time, create a preset with a different -ss.",
		CommandType:    store.TypeFFmpegCommand,
		FFmpegCommands: []string{"-ss 1 -i {{in_video}} -frames:v 1 -q:v 2 {{out_thumbnail}}"},
		InputFileKeys:  []string{"in_video"},
		OutputFiles:    map[string]string{"out_thumbnail": "thumbnail.jpg"},
	},
	{
		ID:             "prs_system_animated_gif",
		Name:           "Animated GIF",
		Description:    "The first 5 seconds as a 480-pixel-wide, 10 fps GIF with a palette made for the clip.",
		CommandType:    store.TypeFFmpegCommand,
		FFmpegCommands: []string{"-t 5 -i {{in_video}} -vf 'fps=10,scale=480:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse' {{out_gif}}"},
		InputFileKeys:  []string{"in_video"},
		OutputFiles:    map[string]string{"out_gif": "animation.gif"},
	},
	{
		ID:          "prs_system_hls",
		Name:        "HLS packaging",
		Description: "Packages a video as HLS (H.264 and AAC in 4-second MPEG-TS segments) for streaming; the output's storage_url is the playlist.",
		CommandType: store.TypeFFmpegCommand,
		FFmpegCommands: []string{"-i {{in_video}} -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k " +
			"-f hls -hls_time 4 -hls_playlist_type vod {{out_playlist_hls}}"},
		InputFileKeys: []string{"in_video"},
		OutputFiles:   map[string]string{"out_playlist_hls": "stream.m3u8"},
	},
}

func init() {
	for _, p := range systemPresets {
		p.CreatedAt, p.UpdatedAt = systemPresetTime, systemPresetTime
	}
}

// SystemPresets returns copies of the presets that ship with the engine, in
// their fixed order.
func SystemPresets() []*store.Preset {
	out := make([]*store.Preset, len(systemPresets))
	for i, p := range systemPresets {
		out[i] = clonePreset(p)
	}
	return out
}

// systemPreset returns a copy of the system preset with that id, or nil.
func systemPreset(id string) *store.Preset {
	for _, p := range systemPresets {
		if p.ID == id {
			return clonePreset(p)
		}
	}
	return nil
}

func clonePreset(p *store.Preset) *store.Preset {
	c := *p
	c.FFmpegCommands = append([]string(nil), p.FFmpegCommands...)
	c.InputFileKeys = append([]string(nil), p.InputFileKeys...)
	c.OutputFiles = make(map[string]string, len(p.OutputFiles))
	for k, v := range p.OutputFiles {
		c.OutputFiles[k] = v
	}
	return &c
}
