package media

import (
	"path/filepath"
	"strings"
)

const defaultMimeType = "application/octet-stream"

// movFamily is the ISO base media / QuickTime demuxer, which ffprobe names
// "mov,mp4,m4a,3gp,3g2,mj2" whatever the file's flavour.
const movFamily = "mov"

// extensionDemuxers lists, for each extension the engine cares about, the
// ffprobe demuxer names that content with that extension is detected as. When
// the detected demuxer is among them the extension is trusted as the
// file_format; otherwise the content wins.
var extensionDemuxers = map[string][]string{
	"mp4":  {movFamily},
	"m4v":  {movFamily},
	"m4a":  {movFamily},
	"m4b":  {movFamily},
	"mov":  {movFamily},
	"3gp":  {movFamily},
	"3g2":  {movFamily},
	"mkv":  {"matroska"},
	"mka":  {"matroska"},
	"webm": {"webm"},
	"ts":   {"mpegts"},
	"m2ts": {"mpegts"},
	"mts":  {"mpegts"},
	"m3u8": {"hls"},
	"mpd":  {"dash"},
	"mp3":  {"mp3"},
	"wav":  {"wav"},
	"flac": {"flac"},
	"ogg":  {"ogg"},
	"oga":  {"ogg"},
	"ogv":  {"ogg"},
	"opus": {"ogg"},
	"aac":  {"aac"},
	"ac3":  {"ac3"},
	"aif":  {"aiff"},
	"aiff": {"aiff"},
	"amr":  {"amr"},
	"wma":  {"asf"},
	"wmv":  {"asf"},
	"asf":  {"asf"},
	"avi":  {"avi"},
	"flv":  {"flv"},
	"mpg":  {"mpeg"},
	"mpeg": {"mpeg"},
	"mxf":  {"mxf"},
	"gif":  {"gif"},
	"png":  {"png_pipe", "apng", "image2"},
	"apng": {"apng"},
	"jpg":  {"jpeg_pipe", "image2"},
	"jpeg": {"jpeg_pipe", "image2"},
	"webp": {"webp_pipe", "image2"},
	"bmp":  {"bmp_pipe", "image2"},
	"tif":  {"tiff_pipe", "image2"},
	"tiff": {"tiff_pipe", "image2"},
	"srt":  {"srt"},
	"vtt":  {"webvtt"},
	"ass":  {"ass"},
	"ssa":  {"ass"},
}

// extensionAliases folds spellings of one format into one file_format so a
// caller can branch on a single value.
var extensionAliases = map[string]string{
	"jpeg": "jpg",
	"tif":  "tiff",
	"aif":  "aiff",
	"mpeg": "mpg",
	"ssa":  "ass",
}

// demuxerFormats names the file_format of content whose extension did not
// match, keyed by the first name in ffprobe's format_name.
var demuxerFormats = map[string]string{
	"matroska": "mkv",
	"mpegts":   "ts",
	"hls":      "m3u8",
	"dash":     "mpd",
	"webvtt":   "vtt",
	"mpeg":     "mpg",
	"jpeg":     "jpg",
	"mjpeg":    "jpg",
}

// imageCodecFormats names the file_format of a single image read by the
// generic image2 demuxer, keyed by codec.
var imageCodecFormats = map[string]string{
	"mjpeg":  "jpg",
	"png":    "png",
	"webp":   "webp",
	"bmp":    "bmp",
	"tiff":   "tiff",
	"gif":    "gif",
	"jpegls": "jpg",
}

// fileFormatName returns the short, user-facing format of the file.
func fileFormatName(formatNames []string, fileName string, picture *ffprobeStream, formatTags map[string]jsonScalar) string {
	ext := extension(fileName)
	for _, demuxer := range extensionDemuxers[ext] {
		if hasAny(formatNames, demuxer) {
			if alias, ok := extensionAliases[ext]; ok {
				return alias
			}
			return ext
		}
	}

	first := ""
	if len(formatNames) > 0 {
		first = strings.TrimSpace(formatNames[0])
	}
	switch {
	case first == movFamily:
		return movFlavour(formatTags)
	case first == "image2" && picture != nil:
		if name, ok := imageCodecFormats[picture.CodecName]; ok {
			return name
		}
		return picture.CodecName
	case strings.HasSuffix(first, "_pipe"):
		first = strings.TrimSuffix(first, "_pipe")
	}
	if name, ok := demuxerFormats[first]; ok {
		return name
	}
	return first
}

// movFlavour tells mp4, mov, m4a and 3gp apart by the major brand of the file
// type box, which is what the single mov demuxer cannot do by name.
func movFlavour(formatTags map[string]jsonScalar) string {
	brand := ""
	for key, value := range formatTags {
		if strings.EqualFold(key, "major_brand") {
			brand = strings.ToLower(strings.TrimSpace(string(value)))
		}
	}
	switch {
	case brand == "qt":
		return "mov"
	case brand == "m4a" || brand == "m4b":
		return "m4a"
	case strings.HasPrefix(brand, "3g2"):
		return "3g2"
	case strings.HasPrefix(brand, "3gp"):
		return "3gp"
	}
	return "mp4"
}

// isImageFormat reports whether the demuxer reads pictures rather than video:
// the generic image2 demuxer, the *_pipe image demuxers, and the image formats
// that may be animated (gif, apng).
func isImageFormat(formatNames []string) bool {
	for _, name := range formatNames {
		if name == "image2" || name == "gif" || name == "apng" || strings.HasSuffix(name, "_pipe") {
			return true
		}
	}
	return false
}

// isAnimatedImage reports whether an image has more than one frame. Only gif
// and apng can be animated as far as ffprobe is concerned; image2 and the
// *_pipe demuxers always read one picture (and report a made-up 25 fps).
func isAnimatedImage(formatNames []string, picture *ffprobeStream) bool {
	if picture == nil || !hasAny(formatNames, "gif", "apng") {
		return false
	}
	if frames, ok := picture.NbFrames.positive(); ok {
		return frames > 1
	}
	// Without a frame count, a stream lasting at least two frames moves.
	seconds, ok := picture.Duration.positive()
	rate, rateOK := parseRational(picture.AvgFrameRate)
	return ok && rateOK && seconds*rate >= 2
}

func extension(fileName string) string {
	return strings.ToLower(strings.TrimPrefix(filepath.Ext(fileName), "."))
}

// mimeTypes maps an extension to its media type. The table is built in
// rather than taken from the mime package, whose answers depend on the
// host's /etc/mime.types and would differ between machines.
var mimeTypes = map[string]string{
	"mp4":  "video/mp4",
	"m4v":  "video/x-m4v",
	"m4a":  "audio/mp4",
	"m4b":  "audio/mp4",
	"mov":  "video/quicktime",
	"3gp":  "video/3gpp",
	"3g2":  "video/3gpp2",
	"mkv":  "video/x-matroska",
	"mka":  "audio/x-matroska",
	"webm": "video/webm",
	"ts":   "video/mp2t",
	"m2ts": "video/mp2t",
	"mts":  "video/mp2t",
	"m3u8": "application/vnd.apple.mpegurl",
	"mpd":  "application/dash+xml",
	"avi":  "video/x-msvideo",
	"flv":  "video/x-flv",
	"wmv":  "video/x-ms-wmv",
	"asf":  "video/x-ms-asf",
	"mpg":  "video/mpeg",
	"mpeg": "video/mpeg",
	"mxf":  "application/mxf",
	"ogv":  "video/ogg",
	"mp3":  "audio/mpeg",
	"wav":  "audio/wav",
	"flac": "audio/flac",
	"ogg":  "audio/ogg",
	"oga":  "audio/ogg",
	"opus": "audio/ogg",
	"aac":  "audio/aac",
	"ac3":  "audio/ac3",
	"aif":  "audio/aiff",
	"aiff": "audio/aiff",
	"amr":  "audio/amr",
	"wma":  "audio/x-ms-wma",
	"gif":  "image/gif",
	"png":  "image/png",
	"apng": "image/apng",
	"jpg":  "image/jpeg",
	"jpeg": "image/jpeg",
	"webp": "image/webp",
	"bmp":  "image/bmp",
	"tif":  "image/tiff",
	"tiff": "image/tiff",
	"avif": "image/avif",
	"srt":  "application/x-subrip",
	"vtt":  "text/vtt",
	"ass":  "text/x-ssa",
	"ssa":  "text/x-ssa",
}

// MimeType returns the media type for fileName's extension. fileType (video,
// audio, image, other, or "") settles the containers used for both sound and
// picture: an audio-only .webm is audio/webm, an .ogg with video is
// video/ogg, an audio-only .3gp is audio/3gpp. Unknown extensions get
// application/octet-stream.
func MimeType(fileName, fileType string) string {
	ext := extension(fileName)
	switch {
	case ext == "webm" && fileType == fileTypeAudio:
		return "audio/webm"
	case ext == "ogg" && fileType == fileTypeVideo:
		return "video/ogg"
	case ext == "3gp" && fileType == fileTypeAudio:
		return "audio/3gpp"
	case ext == "3g2" && fileType == fileTypeAudio:
		return "audio/3gpp2"
	}
	if mimeType, ok := mimeTypes[ext]; ok {
		return mimeType
	}
	return defaultMimeType
}
