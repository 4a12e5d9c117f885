package policy

// allowedMuxers are the -f values allowed before an output. Each writes
// one file, or (hls) a playlist whose segments land beside it in the
// output directory, where only declared outputs are ever uploaded.
var allowedMuxers = setOf(
	"mp4", "mov", "ipod", "ismv", "matroska", "webm", "mpegts", "hls", "gif", "apng", "image2", "image2pipe",
	"mjpeg", "webp", "mp3", "adts", "wav", "flac", "ogg", "oga", "opus", "null", "avi", "flv", "mpeg", "vob",
	"s16le", "s24le", "s32le", "f32le", "u8", "mulaw", "alaw", "rawvideo", "h264", "hevc", "m4v", "srt", "ass",
	"webvtt", "ffmetadata", "md5", "framemd5", "crc", "framecrc", "hash", "framehash", "ac3", "eac3", "mp2",
	"aiff", "caf", "wv", "w64", "ivf", "nut", "yuv4mpegpipe", "truehd", "dts", "3gp", "3g2", "mxf", "sup",
)

// allowedDemuxers are the -f values allowed before -i (lavfi is handled
// apart: its "file name" is a filtergraph). Left out on purpose: concat,
// hls, dash and imf (they open files named inside the input), data and
// tee, and every device (v4l2, alsa, x11grab, fbdev…).
var allowedDemuxers = setOf(
	"mov", "mp4", "m4a", "3gp", "matroska", "webm", "mpegts", "mp3", "aac", "wav", "flac", "ogg", "image2",
	"gif", "apng", "png_pipe", "jpeg_pipe", "webp_pipe", "mjpeg", "srt", "ass", "webvtt", "s16le", "s24le",
	"s32le", "f32le", "u8", "mulaw", "alaw", "rawvideo", "h264", "hevc", "avi", "flv", "mpeg", "ac3", "eac3",
	"aiff", "caf", "ivf", "nut", "yuv4mpegpipe", "m4v", "mxf", "wv", "ffmetadata", "lavfi",
)

// refusedFormats says why some well-known formats are not allowed.
var refusedFormats = map[string]string{
	"concat":         "opens the files its list names",
	"hls":            "as an input, opens the files and URLs its playlist names",
	"dash":           "opens the files and URLs its manifest names",
	"imf":            "opens the files its asset map names",
	"tee":            "writes extra outputs of its own choosing",
	"data":           "copies raw bytes, the usual way to leak a file",
	"segment":        "writes files by a pattern of its own choosing",
	"stream_segment": "writes files by a pattern of its own choosing",
	"fifo":           "wraps another output of its own choosing",
	"rtp":            "sends to the network",
	"rtsp":           "sends to the network",
	"sdp":            "opens network streams",
	"v4l2":           "opens a device",
	"video4linux2":   "opens a device",
	"alsa":           "opens a device",
	"pulse":          "opens a device",
	"oss":            "opens a device",
	"fbdev":          "opens a device",
	"x11grab":        "opens a device",
	"xcbgrab":        "opens a device",
	"kmsgrab":        "opens a device",
	"sndio":          "opens a device",
	"jack":           "opens a device",
	"openal":         "opens a device",
	"lavfi":          "as an output, is not a format",
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
