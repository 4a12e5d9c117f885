package media

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// Info holds the ffprobe facts of one file. The JSON names are the
// contract's; facts that do not apply to the file are omitted.
type Info struct {
	Duration       *float64 `json:"duration,omitempty"`         // seconds, 3 decimals
	FileType       string   `json:"file_type,omitempty"`        // video | audio | image | other
	FileFormat     string   `json:"file_format,omitempty"`      // short name: mp4, webm, mp3, png, gif, ...
	MimeType       string   `json:"mime_type,omitempty"`        // e.g. video/mp4
	Codec          string   `json:"codec,omitempty"`            // codec_name of the primary stream
	PixelFormat    string   `json:"pixel_format,omitempty"`     // pix_fmt of the primary picture stream
	Width          *int     `json:"width,omitempty"`            // as displayed (rotation applied)
	Height         *int     `json:"height,omitempty"`           // as displayed (rotation applied)
	FrameRate      *float64 `json:"frame_rate,omitempty"`       // frames per second, 3 decimals
	BitrateVideoKb *float64 `json:"bitrate_video_kb,omitempty"` // kbit/s, 1 decimal
	BitrateAudioKb *float64 `json:"bitrate_audio_kb,omitempty"` // kbit/s, 1 decimal
	SampleRate     *int     `json:"sample_rate,omitempty"`      // Hz
	Channels       *int     `json:"channels,omitempty"`
}

// File types, as the contract spells them.
const (
	fileTypeVideo = "video"
	fileTypeAudio = "audio"
	fileTypeImage = "image"
	fileTypeOther = "other"
)

// ffprobeOutput is the subset of `ffprobe -print_format json -show_format
// -show_streams` that the facts are derived from.
type ffprobeOutput struct {
	Streams []ffprobeStream `json:"streams"`
	Format  ffprobeFormat   `json:"format"`
}

type ffprobeFormat struct {
	FormatName string                `json:"format_name"`
	Duration   jsonScalar            `json:"duration"`
	BitRate    jsonScalar            `json:"bit_rate"`
	Tags       map[string]jsonScalar `json:"tags"`
}

type ffprobeStream struct {
	CodecName    string                `json:"codec_name"`
	CodecType    string                `json:"codec_type"`
	PixFmt       string                `json:"pix_fmt"`
	Width        jsonScalar            `json:"width"`
	Height       jsonScalar            `json:"height"`
	AvgFrameRate string                `json:"avg_frame_rate"`
	RFrameRate   string                `json:"r_frame_rate"`
	BitRate      jsonScalar            `json:"bit_rate"`
	Duration     jsonScalar            `json:"duration"`
	NbFrames     jsonScalar            `json:"nb_frames"`
	SampleRate   jsonScalar            `json:"sample_rate"`
	Channels     jsonScalar            `json:"channels"`
	Disposition  map[string]jsonScalar `json:"disposition"`
	Tags         map[string]jsonScalar `json:"tags"`
	SideDataList []struct {
		Rotation jsonScalar `json:"rotation"`
	} `json:"side_data_list"`
}

// jsonScalar accepts a JSON string, number or boolean. ffprobe writes most
// numbers as strings ("48000", "2.000000", "N/A") but some as numbers, and the
// choice has changed between versions; accepting both keeps the parser
// working across ffprobe releases.
type jsonScalar string

func (s *jsonScalar) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*s = ""
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var text string
		if err := json.Unmarshal(data, &text); err != nil {
			return err
		}
		*s = jsonScalar(text)
		return nil
	}
	if len(data) > 0 && (data[0] == '{' || data[0] == '[') {
		return fmt.Errorf("expected a scalar, got %.20s", data)
	}
	*s = jsonScalar(data)
	return nil
}

// float returns the value when it is a finite number ("N/A" and "" are not).
func (s jsonScalar) float() (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// positive returns the value when it is a number greater than zero; ffprobe
// reports unknown sizes and rates as 0, which must not become facts.
func (s jsonScalar) positive() (float64, bool) {
	v, ok := s.float()
	return v, ok && v > 0
}

func (s jsonScalar) positiveInt() (int, bool) {
	v, ok := s.positive()
	if !ok || v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}

func (st *ffprobeStream) flag(name string) bool {
	v, ok := st.Disposition[name].float()
	return ok && v != 0
}

// tag returns the stream tag called name, also under the "name-<language>"
// spelling ffmpeg uses for Matroska tags of a track with a language
// ("BPS-eng", "DURATION-eng").
// An exact name wins; among language variants the first key in sorted order
// does, so the answer does not depend on map iteration order.
func (st *ffprobeStream) tag(name string) jsonScalar {
	name = strings.ToLower(name)
	bestKey, best := "", jsonScalar("")
	for key, value := range st.Tags {
		lower := strings.ToLower(key)
		if value == "" || (lower != name && !strings.HasPrefix(lower, name+"-")) {
			continue
		}
		if lower == name {
			return value
		}
		if bestKey == "" || key < bestKey {
			bestKey, best = key, value
		}
	}
	return best
}

// ParseFFprobeJSON derives the facts from the JSON that
// `ffprobe -print_format json -show_format -show_streams` printed for
// fileName (only its extension and base name are used). It returns an error
// wrapping ErrNotMedia when the output describes no usable stream.
func ParseFFprobeJSON(data []byte, fileName string) (Info, error) {
	var out ffprobeOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return Info{}, fmt.Errorf("media: decode ffprobe output: %w", err)
	}
	return describe(&out, fileName)
}

func describe(out *ffprobeOutput, fileName string) (Info, error) {
	if len(out.Streams) == 0 {
		return Info{}, &notMediaError{reason: "ffprobe found no streams"}
	}

	formatNames := strings.Split(strings.ToLower(out.Format.FormatName), ",")
	var pictures, audios []*ffprobeStream
	undecodablePictures := 0
	for i := range out.Streams {
		st := &out.Streams[i]
		switch st.CodecType {
		case "video":
			// Cover art is a picture attached to an audio file, not a video track.
			if st.flag("attached_pic") {
				continue
			}
			// A picture stream without a size could not be decoded (for example
			// a truncated PNG); reporting it would describe a file nobody can use.
			if _, ok := st.Width.positiveInt(); !ok {
				undecodablePictures++
				continue
			}
			if _, ok := st.Height.positiveInt(); !ok {
				undecodablePictures++
				continue
			}
			pictures = append(pictures, st)
		case "audio":
			audios = append(audios, st)
		}
	}
	if len(pictures) == 0 && len(audios) == 0 && undecodablePictures == len(out.Streams) {
		return Info{}, &notMediaError{reason: "no decodable stream"}
	}

	picture := primaryStream(pictures)
	audio := primaryStream(audios)

	info := Info{}
	switch {
	case picture != nil && len(audios) == 0 && isImageFormat(formatNames):
		info.FileType = fileTypeImage
	case picture != nil:
		info.FileType = fileTypeVideo
	case audio != nil:
		info.FileType = fileTypeAudio
	default:
		info.FileType = fileTypeOther
	}

	info.FileFormat = fileFormatName(formatNames, fileName, picture, out.Format.Tags)
	info.MimeType = MimeType("media."+info.FileFormat, info.FileType)
	if info.MimeType == defaultMimeType {
		info.MimeType = MimeType(filepath.Base(fileName), info.FileType)
	}

	// Whether the file moves decides whether time-based facts apply. A still
	// image demuxer reports a made-up 25 fps and one-frame duration; those are
	// not facts about the file.
	moving := info.FileType == fileTypeVideo || info.FileType == fileTypeAudio ||
		(info.FileType == fileTypeImage && isAnimatedImage(formatNames, picture))

	switch info.FileType {
	case fileTypeVideo, fileTypeImage:
		info.Codec = picture.CodecName
		info.PixelFormat = picture.PixFmt
		width, _ := picture.Width.positiveInt()
		height, _ := picture.Height.positiveInt()
		if isQuarterTurn(picture) {
			width, height = height, width
		}
		info.Width, info.Height = &width, &height
		if moving {
			info.FrameRate = frameRate(picture)
		}
	case fileTypeAudio:
		info.Codec = audio.CodecName
	default:
		info.Codec = out.Streams[0].CodecName
	}

	if audio != nil && info.FileType != fileTypeImage {
		if rate, ok := audio.SampleRate.positiveInt(); ok {
			info.SampleRate = &rate
		}
		if channels, ok := audio.Channels.positiveInt(); ok {
			info.Channels = &channels
		}
	}

	if moving || info.FileType == fileTypeOther {
		info.Duration = duration(out)
	}

	switch info.FileType {
	case fileTypeVideo:
		info.BitrateVideoKb, info.BitrateAudioKb = videoFileBitrates(out, formatNames, pictures, audios, picture, audio)
	case fileTypeAudio:
		info.BitrateAudioKb = audioFileBitrate(out, formatNames, audios, audio)
	}
	return info, nil
}

// primaryStream picks the stream a person would call "the" video or audio
// track: the first one flagged default, else the first one.
func primaryStream(streams []*ffprobeStream) *ffprobeStream {
	for _, st := range streams {
		if st.flag("default") {
			return st
		}
	}
	if len(streams) > 0 {
		return streams[0]
	}
	return nil
}

// isQuarterTurn reports whether the player rotates the picture by 90 or 270
// degrees, so that width and height describe what a viewer sees (a portrait
// phone video is stored landscape with a rotation).
func isQuarterTurn(st *ffprobeStream) bool {
	rotation, ok := 0.0, false
	for _, side := range st.SideDataList {
		if rotation, ok = side.Rotation.float(); ok {
			break
		}
	}
	if !ok {
		rotation, ok = st.tag("rotate").float()
	}
	if !ok {
		return false
	}
	quarterTurns := int(math.Round(rotation / 90))
	return quarterTurns%2 != 0
}

// frameRate uses avg_frame_rate, the rate a viewer experiences, and falls back
// to r_frame_rate (the container's base rate) when the average is unknown.
func frameRate(st *ffprobeStream) *float64 {
	for _, text := range []string{st.AvgFrameRate, st.RFrameRate} {
		if rate, ok := parseRational(text); ok {
			return roundedPtr(rate, 3)
		}
	}
	return nil
}

// parseRational parses ffprobe's "num/den" (or a plain number); "0/0" and
// other non-positive rates mean unknown.
func parseRational(text string) (float64, bool) {
	num, den, found := strings.Cut(strings.TrimSpace(text), "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, false
	}
	d := 1.0
	if found {
		if d, err = strconv.ParseFloat(den, 64); err != nil || d == 0 {
			return 0, false
		}
	}
	rate := n / d
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 {
		return 0, false
	}
	return rate, true
}

// duration prefers the container's duration and falls back to the longest
// stream, then to Matroska's per-track DURATION tags.
func duration(out *ffprobeOutput) *float64 {
	if seconds, ok := out.Format.Duration.positive(); ok {
		return roundedPtr(seconds, 3)
	}
	longest := 0.0
	for i := range out.Streams {
		st := &out.Streams[i]
		seconds, ok := st.Duration.positive()
		if !ok {
			seconds, ok = parseClockDuration(string(st.tag("DURATION")))
		}
		if ok && seconds > longest {
			longest = seconds
		}
	}
	if longest > 0 {
		return roundedPtr(longest, 3)
	}
	return nil
}

// parseClockDuration parses "HH:MM:SS.fraction", the form of Matroska's
// DURATION tag.
func parseClockDuration(text string) (float64, bool) {
	parts := strings.Split(strings.TrimSpace(text), ":")
	if len(parts) != 3 {
		return 0, false
	}
	hours, err1 := strconv.ParseUint(parts[0], 10, 32)
	minutes, err2 := strconv.ParseUint(parts[1], 10, 32)
	seconds, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || seconds < 0 {
		return 0, false
	}
	total := float64(hours)*3600 + float64(minutes)*60 + seconds
	return total, total > 0
}

// streamBitrate is the stream's own bit_rate, or the BPS statistics tag that
// mkvmerge writes into Matroska files.
func streamBitrate(st *ffprobeStream) (float64, bool) {
	if bps, ok := st.BitRate.positive(); ok {
		return bps, true
	}
	return st.tag("BPS").positive()
}

// containerBitrate is format.bit_rate when it measures the media. For a
// playlist (HLS) ffprobe divides the size of the playlist text by the
// duration, which says nothing about the media.
func containerBitrate(out *ffprobeOutput, formatNames []string) (float64, bool) {
	if hasAny(formatNames, "hls", "dash") {
		return 0, false
	}
	return out.Format.BitRate.positive()
}

// videoFileBitrates returns the primary video and audio bitrates. When the
// video stream does not state its bitrate (common in Matroska, WebM and
// MPEG-TS), it is the container's total minus every audio stream, which is
// only possible when every audio bitrate is known and there is one picture
// stream.
func videoFileBitrates(out *ffprobeOutput, formatNames []string, pictures, audios []*ffprobeStream, picture, audio *ffprobeStream) (videoKb, audioKb *float64) {
	if audio != nil {
		if bps, ok := streamBitrate(audio); ok {
			audioKb = kilobits(bps)
		}
	}
	if bps, ok := streamBitrate(picture); ok {
		return kilobits(bps), audioKb
	}
	total, ok := containerBitrate(out, formatNames)
	if !ok || len(pictures) != 1 {
		return nil, audioKb
	}
	for _, st := range audios {
		bps, ok := streamBitrate(st)
		if !ok {
			return nil, audioKb
		}
		total -= bps
	}
	if total <= 0 {
		return nil, audioKb
	}
	return kilobits(total), audioKb
}

// audioFileBitrate is the primary audio stream's bitrate or, for a file with a
// single audio stream that does not state one (Ogg, FLAC, Matroska), the
// container's total.
func audioFileBitrate(out *ffprobeOutput, formatNames []string, audios []*ffprobeStream, audio *ffprobeStream) *float64 {
	if bps, ok := streamBitrate(audio); ok {
		return kilobits(bps)
	}
	if len(audios) != 1 {
		return nil
	}
	if total, ok := containerBitrate(out, formatNames); ok {
		return kilobits(total)
	}
	return nil
}

func kilobits(bitsPerSecond float64) *float64 {
	return roundedPtr(bitsPerSecond/1000, 1)
}

func roundedPtr(value float64, decimals int) *float64 {
	scale := math.Pow10(decimals)
	rounded := math.Round(value*scale) / scale
	return &rounded
}

func hasAny(names []string, wanted ...string) bool {
	for _, name := range names {
		for _, w := range wanted {
			if name == w {
				return true
			}
		}
	}
	return false
}
