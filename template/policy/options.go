package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// valueKind says whether an option takes the next argv word as its value,
// and what that value may be.
type valueKind int

const (
	noValue      valueKind = iota // a switch: -y, -an, -shortest
	literalValue                  // text with no placeholder, checked by optionRule.check
	inputFile                     // -i: exactly one readable placeholder
	attachFile                    // -attach: exactly one input placeholder
	outputFile                    // -hls_segment_filename: exactly one output placeholder
	filtergraph                   // -vf, -af, -filter_complex…: parsed and checked filter by filter
	formatName                    // -f: a demuxer before -i, a muxer before an output
)

// optionRule is one allowed ffmpeg option.
type optionRule struct {
	value valueKind
	// check explains what is wrong with a literal value, or returns "".
	check func(value string) string
}

// The allowed options, by their name without "-" and without a stream
// specifier (-c:v:0 is checked as c). They shape encoding: codecs and
// their settings, rates and sizes, maps, seeking, filters, metadata and
// the formats on the allowed lists. Options that read or write files,
// open devices or reach the network are not here; refusedOptions says why
// for the well-known ones.
var allowedOptions = map[string]optionRule{
	// Files, only through placeholders.
	"i":                    {value: inputFile},
	"attach":               {value: attachFile},
	"hls_segment_filename": {value: outputFile},
	"f":                    {value: formatName},

	// Filters.
	"vf": {value: filtergraph}, "af": {value: filtergraph}, "filter": {value: filtergraph},
	"filter_complex": {value: filtergraph}, "lavfi": {value: filtergraph},

	// Switches.
	"y": {}, "hide_banner": {}, "nostdin": {}, "nostats": {},
	"vn": {}, "an": {}, "sn": {}, "dn": {}, "shortest": {}, "copyts": {}, "start_at_zero": {},
	"accurate_seek": {}, "noaccurate_seek": {}, "autorotate": {}, "noautorotate": {}, "re": {},
	"copytb": literal(wholeNumber(-1, 1)),

	// Logging (to stderr, which the engine keeps).
	"loglevel": literal(matches(`^[a-z0-9+]+$`, "a log level such as error or info")),
	"v":        literal(matches(`^[a-z0-9+]+$`, "a log level such as error or info")),

	// Codecs and their settings.
	"c": literal(codecName), "codec": literal(codecName), "vcodec": literal(codecName),
	"acodec": literal(codecName), "scodec": literal(codecName),
	"b": literal(bitrate), "ab": literal(bitrate), "vb": literal(bitrate), "maxrate": literal(bitrate),
	"minrate": literal(bitrate), "bufsize": literal(bitrate),
	"crf": literal(number), "cq": literal(number), "qp": literal(number), "q": literal(number), "qscale": literal(number),
	"qmin": literal(number), "qmax": literal(number), "global_quality": literal(number),
	"g": literal(number), "keyint_min": literal(number), "bf": literal(number), "refs": literal(number),
	"sc_threshold": literal(number), "b_strategy": literal(number), "coder": literal(name), "trellis": literal(number),
	"preset": literal(name), "tune": literal(name), "profile": literal(name), "level": literal(name),
	"x264-params": literal(encoderParams), "x265-params": literal(encoderParams),
	"pix_fmt": literal(name), "pixel_format": literal(name), "sample_fmt": literal(name),
	"color_primaries": literal(name), "color_trc": literal(name), "colorspace": literal(name), "color_range": literal(name),
	"chroma_sample_location": literal(name),
	"force_key_frames":       literal(expression), "forced-idr": literal(number),
	"flags":             literal(flagsFrom("global_header", "cgop", "bitexact", "low_delay", "ildct", "ilme", "qscale", "loop", "gray", "mv4", "aic", "output_corrupt", "unaligned", "psnr")),
	"fflags":            literal(flagsFrom("genpts", "igndts", "ignidx", "discardcorrupt", "sortdts", "fastseek", "nofillin", "noparse", "bitexact", "flush_packets", "shortest", "autobsf", "nobuffer")),
	"compression_level": literal(number), "quality": literal(name), "lossless": literal(number), "speed": literal(number),
	"cpu-used": literal(number), "deadline": literal(name), "row-mt": literal(number), "tile-columns": literal(number),
	"tile-rows": literal(number), "lag-in-frames": literal(number), "auto-alt-ref": literal(number),
	"aq-mode": literal(number), "vbr": literal(name), "application": literal(name), "cutoff": literal(number),
	"aac_coder": literal(name), "frame_duration": literal(number), "compression": literal(name),
	"bsf": literal(bitstreamFilters), "tag": literal(fourCC), "vtag": literal(fourCC), "atag": literal(fourCC),
	"strict":  literal(matches(`^-?[a-z0-9]+$`, "a level such as experimental or -2")),
	"threads": literal(wholeNumber(0, MaxThreads)), "filter_threads": literal(wholeNumber(0, MaxThreads)),
	"filter_complex_threads": literal(wholeNumber(0, MaxThreads)),
	"sws_flags":              literal(matches(`^[a-z_+|-]+$`, "scaler flags such as bicubic")),

	// Timing and seeking.
	"ss": literal(duration), "sseof": literal(duration), "t": literal(duration), "to": literal(duration),
	"itsoffset": literal(duration), "itsscale": literal(number),
	"r": literal(frameRate), "framerate": literal(frameRate), "fpsmax": literal(frameRate),
	"vsync": literal(name), "fps_mode": literal(name), "avoid_negative_ts": literal(name), "async": literal(number),
	"frames": literal(wholeNumber(0, 1e9)), "vframes": literal(wholeNumber(0, 1e9)),
	"aframes": literal(wholeNumber(0, 1e9)), "dframes": literal(wholeNumber(0, 1e9)),
	"stream_loop": literal(wholeNumber(0, MaxLoops)), "loop": literal(wholeNumber(-1, 1)),
	"timecode":              literal(matches(`^[0-9:;.]+$`, "a timecode such as 00:00:10:00")),
	"max_muxing_queue_size": literal(wholeNumber(1, 1<<20)), "max_interleave_delta": literal(number),
	"muxdelay": literal(number), "muxpreload": literal(number),
	"probesize": literal(wholeNumber(32, 1<<30)), "analyzeduration": literal(wholeNumber(0, 1<<31)),

	// Picture and sound.
	"s": literal(videoSize), "video_size": literal(videoSize),
	"aspect": literal(matches(`^[0-9]+([.:/][0-9]+)?$`, "an aspect ratio such as 16:9")),
	"ar":     literal(wholeNumber(1, MaxSampleRate)), "sample_rate": literal(wholeNumber(1, MaxSampleRate)),
	"ac": literal(wholeNumber(1, 64)), "channels": literal(wholeNumber(1, 64)),
	"channel_layout": literal(channelLayout), "ch_layout": literal(channelLayout),

	// Streams and metadata.
	"map": literal(streamMap), "map_metadata": literal(streamMap), "map_chapters": literal(wholeNumber(-1, 1000)),
	"metadata": literal(metadataEntry), "disposition": literal(matches(`^[-+a-z_0-9]+$`, "dispositions such as default or 0")),

	// Muxer settings.
	"movflags": literal(flagsFrom("faststart", "frag_keyframe", "empty_moov", "default_base_moof", "dash", "cmaf",
		"omit_tfhd_offset", "separate_moof", "disable_chpl", "negative_cts_offsets", "isml", "delay_moov",
		"global_sidx", "write_colr", "write_gama", "use_metadata_tags", "skip_trailer", "frag_every_frame",
		"frag_discont", "rtphint", "skip_sidx", "prefer_icc")),
	"frag_duration": literal(number), "min_frag_duration": literal(number), "frag_size": literal(number),
	"write_tmcd": literal(name), "video_track_timescale": literal(number), "brand": literal(name),
	"use_editlist": literal(number), "hls_time": literal(number), "hls_init_time": literal(number),
	"hls_list_size": literal(number), "hls_playlist_type": literal(oneOf("vod", "event")),
	"hls_segment_type": literal(oneOf("mpegts", "fmp4")), "hls_allow_cache": literal(number),
	"hls_flags": literal(flagsFrom("single_file", "independent_segments", "split_by_time", "program_date_time",
		"omit_endlist", "round_durations", "discont_start", "second_level_segment_index", "periodic_rekey", "iframes_only")),
	"start_number": literal(number), "update": literal(wholeNumber(0, 1)), "id3v2_version": literal(number),
	"write_id3v1": literal(number), "write_xing": literal(number), "cluster_size_limit": literal(number),
	"cluster_time_limit": literal(number), "reserve_index_space": literal(number), "dash": literal(number),
	"live": literal(number), "mpegts_flags": literal(name), "mpegts_service_id": literal(number),
	"muxrate": literal(bitrate), "pes_payload_size": literal(number), "final_delay": literal(number),
	"gifflags": literal(name), "plays": literal(number),
}

// refusedOptions are options people send that are not allowed, with the
// reason given to the client.
var refusedOptions = map[string]string{
	"dump_attachment":            "writes files named by the input's metadata",
	"passlogfile":                "writes statistics files to a path of its own choosing",
	"pass":                       "two-pass encoding writes log files; encode in one pass (for example with -crf)",
	"vstats":                     "writes a statistics file",
	"vstats_file":                "writes a statistics file to a path of its own choosing",
	"vstats_version":             "belongs to -vstats_file, which is not allowed",
	"sdp_file":                   "writes an SDP file",
	"report":                     "writes a log file",
	"progress":                   "sends progress to a file or URL",
	"filter_script":              "reads a filtergraph from a file; write the filtergraph inline with -vf or -filter_complex",
	"filter_complex_script":      "reads a filtergraph from a file; write the filtergraph inline with -filter_complex",
	"stats_enc_pre":              "writes statistics files",
	"stats_enc_post":             "writes statistics files",
	"stats_mux_pre":              "writes statistics files",
	"stats_enc_pre_fmt":          "belongs to the statistics files, which are not allowed",
	"stats_enc_post_fmt":         "belongs to the statistics files, which are not allowed",
	"stats_mux_pre_fmt":          "belongs to the statistics files, which are not allowed",
	"fpre":                       "reads a preset file",
	"vpre":                       "reads a preset file from the worker",
	"apre":                       "reads a preset file from the worker",
	"spre":                       "reads a preset file from the worker",
	"pre":                        "reads a preset file from the worker",
	"protocol_whitelist":         "changes which protocols ffmpeg may open; the engine sets it",
	"protocol_blacklist":         "changes which protocols ffmpeg may open; the engine sets it",
	"allowed_extensions":         "lets playlists open files of any type",
	"allowed_segment_extensions": "lets playlists open files of any type",
	"extension_picky":            "lets playlists open files of any type",
	"safe":                       "lets concat lists name any file",
	"enable_drefs":               "lets a MOV file open other files",
	"max_pixels":                 "is a limit the engine sets",
	"timelimit":                  "is a limit the engine sets",
	"fs":                         "is a limit the engine sets",
	"max_alloc":                  "is a limit the engine sets",
	"listen":                     "makes ffmpeg a network server",
	"headers":                    "belongs to network inputs; inputs are downloaded by the engine",
	"user_agent":                 "belongs to network inputs; inputs are downloaded by the engine",
	"cookies":                    "belongs to network inputs; inputs are downloaded by the engine",
	"http_proxy":                 "belongs to network inputs; inputs are downloaded by the engine",
	"method":                     "belongs to network outputs",
	"init_hw_device":             "opens a hardware device",
	"filter_hw_device":           "opens a hardware device",
	"hwaccel":                    "opens a hardware device",
	"hwaccel_device":             "opens a hardware device",
	"hwaccel_output_format":      "belongs to hardware decoding, which is not allowed",
	"vaapi_device":               "opens a hardware device",
	"qsv_device":                 "opens a hardware device",
	"x264opts":                   "can make the encoder write files; use -x264-params with its allowed keys",
	"segment_list":               "writes a list file to a path of its own choosing",
	"hls_key_info_file":          "reads a key file",
	"hls_fmp4_init_filename":     "writes a file the command did not declare",
	"master_pl_name":             "writes a file the command did not declare",
	"hls_base_url":               "writes URLs into the playlist",
	"dump":                       "dumps packets to the log",
	"hex":                        "dumps packets to the log",
	"benchmark_all":              "is for benchmarking",
	"n":                          "stops ffmpeg from writing its outputs; the engine always overwrites",
	"pattern_type":               "lets an input name many files",
	"readrate":                   "makes the command wait in real time",
}

func literal(check func(string) string) optionRule {
	return optionRule{value: literalValue, check: check}
}

func matches(pattern, what string) func(string) string {
	re := regexp.MustCompile(pattern)
	return func(v string) string {
		if !re.MatchString(v) {
			return "is not " + what
		}
		return ""
	}
}

var (
	name       = matches(`^[A-Za-z0-9_.+-]{1,64}$`, "a name or number (letters, digits, _ . + -)")
	number     = matches(`^-?[0-9]+(\.[0-9]+)?$`, "a number")
	bitrate    = matches(`^[0-9]+(\.[0-9]+)?[kKmMgG]?$`, "a bit rate such as 128k or 2M")
	fourCC     = matches(`^([A-Za-z0-9 ]{4}|0x[0-9A-Fa-f]{1,8})$`, "a four-character code such as hvc1")
	streamMap  = matches(`^-?(\[[A-Za-z0-9_:.]+\]|[0-9][A-Za-z0-9_:.#?-]*|-1)\??$`, "a stream map such as 0:v:0, 1:a? or [out]")
	expression = matches(`^[A-Za-z0-9_.,:()+*/<>=!| -]{1,512}$`, "an expression or list of times")

	channelLayout = matches(`^[A-Za-z0-9_.()+|-]{1,64}$`, "a channel layout such as stereo or 5.1")
)

var (
	codecPattern      = regexp.MustCompile(`^[a-z0-9_-]{1,40}$`)
	ratePattern       = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(/[0-9]+(\.[0-9]+)?)?$`)
	encoderParamValue = regexp.MustCompile(`^[A-Za-z0-9.,+_-]*$`)
)

func codecName(v string) string {
	if !codecPattern.MatchString(v) {
		return "is not a codec name such as libx264, aac or copy"
	}
	for _, hw := range hardwareCodecFamilies {
		if strings.Contains(v, hw) {
			return "is a hardware codec, which opens devices on the worker"
		}
	}
	return ""
}

// hardwareCodecFamilies are codec name parts of encoders and decoders that
// open devices. Other codec names are left to ffmpeg: an unknown one fails
// the run with ffmpeg's own clear message, as the hosted services do.
var hardwareCodecFamilies = []string{"vaapi", "v4l2m2m", "qsv", "nvenc", "cuvid", "nvdec", "amf", "videotoolbox",
	"omx", "rkmpp", "mediacodec", "vulkan", "mmal", "crystalhd", "_mf", "vdpau", "d3d11va", "dxva2", "opencl", "cuda", "libvmaf"}

func duration(v string) string {
	if _, ok := parseDuration(v); !ok {
		return "is not a time such as 10, 2.5 or 00:01:30"
	}
	return ""
}

func frameRate(v string) string {
	switch v {
	case "ntsc", "pal", "qntsc", "qpal", "sntsc", "spal", "film", "ntsc-film":
		return ""
	}
	if !ratePattern.MatchString(v) {
		return "is not a rate such as 30 or 30000/1001"
	}
	if rateAbove(v, MaxFrameRate) {
		return fmt.Sprintf("is more than %d frames per second", MaxFrameRate)
	}
	return ""
}

func videoSize(v string) string { return sizeProblem(v) }

func wholeNumber(lo, hi int) func(string) string {
	return func(v string) string {
		if !wholeNumberIn(v, lo, hi) {
			return fmt.Sprintf("is not a whole number from %d to %d", lo, hi)
		}
		return ""
	}
}

func oneOf(values ...string) func(string) string {
	return func(v string) string {
		for _, ok := range values {
			if v == ok {
				return ""
			}
		}
		return "is not one of " + strings.Join(values, ", ")
	}
}

// flagsFrom checks an AVOption flags value ("+faststart+frag_keyframe",
// "-global_header", "single_file") against the allowed flag names.
func flagsFrom(allowed ...string) func(string) string {
	set := map[string]bool{}
	for _, a := range allowed {
		set[a] = true
	}
	return func(v string) string {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '+' || r == '-' || r == '|' }) {
			if !set[f] {
				return fmt.Sprintf("has flag %q, which is not allowed (allowed: %s)", f, strings.Join(allowed, ", "))
			}
		}
		if strings.Trim(v, "+-|") == "" && v != "0" {
			return "names no flag"
		}
		return ""
	}
}

func metadataEntry(v string) string {
	key, _, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return "is not key=value"
	}
	if len(v) > 1024 {
		return "is longer than 1024 bytes"
	}
	return ""
}

// bitstreamFilters checks a -bsf list. Bitstream filters take options of
// their own after '='; only plain names are allowed.
func bitstreamFilters(v string) string {
	allowed := map[string]bool{"h264_mp4toannexb": true, "hevc_mp4toannexb": true, "aac_adtstoasc": true,
		"extract_extradata": true, "dump_extra": true, "remove_extra": true, "null": true, "vp9_superframe": true,
		"mpeg4_unpack_bframes": true, "chomp": true, "h264_redundant_pps": true}
	for _, f := range strings.Split(v, ",") {
		if !allowed[f] {
			return fmt.Sprintf("names bitstream filter %q, which is not allowed", f)
		}
	}
	return ""
}

// encoderParamKeys are the keys allowed in -x264-params and -x265-params.
// Both encoders also have keys that write files (x264 dump-yuv, x265 csv,
// analysis-save…), so only rate-control and GOP settings are allowed.
var encoderParamKeys = map[string]bool{
	"keyint": true, "min-keyint": true, "scenecut": true, "no-scenecut": true, "bframes": true, "b-adapt": true,
	"b-pyramid": true, "ref": true, "rc-lookahead": true, "aq-mode": true, "aq-strength": true, "crf": true,
	"qp": true, "vbv-maxrate": true, "vbv-bufsize": true, "open-gop": true, "nal-hrd": true, "force-cfr": true,
	"colorprim": true, "transfer": true, "colormatrix": true, "level": true, "log-level": true, "deblock": true,
	"psy-rd": true, "me": true, "subme": true, "merange": true, "weightp": true, "no-sao": true, "sao": true,
	"repeat-headers": true, "annexb": true, "aud": true, "bitrate": true, "fast-pskip": true, "cabac": true,
	"8x8dct": true, "partitions": true, "trellis": true, "no-mbtree": true, "mbtree": true, "keyint-min": true,
	"ipratio": true, "pbratio": true, "qcomp": true, "slices": true, "hrd": true, "range": true,
}

// encoderParams reads the value as libavcodec does (av_dict_parse_string
// with "=" and ":", so av_get_token quoting applies) and checks each key.
func encoderParams(v string) string {
	rest := v
	for rest != "" {
		var key, val string
		key, rest = getToken(rest, "=")
		if strings.HasPrefix(rest, "=") {
			val, rest = getToken(rest[1:], ":")
		}
		if !encoderParamKeys[key] {
			return fmt.Sprintf("sets %q, which is not an allowed encoder parameter", key)
		}
		if !encoderParamValue.MatchString(val) {
			return fmt.Sprintf("gives %q the value %q, which is not a plain number or name", key, val)
		}
		if strings.HasPrefix(rest, ":") {
			rest = rest[1:]
		}
	}
	return ""
}
