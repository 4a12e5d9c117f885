package policy

// filterRule is what the validator knows about one allowed filter. Most
// filters need nothing beyond being on the list: their options only shape
// pixels and samples. The fields matter for the few whose options name
// files or bound resources.
type filterRule struct {
	// positional lists the filter's options in declaration order, which is
	// the order positional arguments fill them ("shorthand"). Given for
	// every filter that has a file, size or duration option, so that
	// "subtitles=x.srt" is read as filename=x.srt.
	positional []string
	// aliases maps an option's short names to the canonical one.
	aliases map[string]string
	// readsFile names options whose value ffmpeg opens for reading; the
	// value must be exactly one input placeholder.
	readsFile []string
	// writesFile names options whose value ffmpeg opens for writing; the
	// value must be exactly one output placeholder.
	writesFile []string
	// refused names options that are never allowed, with the reason.
	refused map[string]string
	// dimensions names options holding a width or height in pixels; a
	// literal number there is bounded by MaxDimension.
	dimensions []string
	// source marks a generated source: it must be given a bounded
	// duration, and its size and rates are bounded.
	source bool
	// loops marks loop/aloop, whose loop count must be bounded.
	loops bool
}

// The allowed filters. Everything not listed is refused, which is what
// keeps out the filters that read files (movie, amovie, sendcmd, zmq…),
// load code (ladspa, lv2, frei0r), open sockets (zmq, azmq), use devices
// (hwupload, *_vulkan, *_opencl) or run models (dnn_*, sr, arnndn).
var allowedFilters = map[string]filterRule{
	// Files read through a placeholder.
	"subtitles": {
		positional: []string{"filename", "original_size", "fontsdir", "alpha", "charenc", "stream_index", "force_style"},
		aliases:    map[string]string{"f": "filename", "si": "stream_index"},
		readsFile:  []string{"filename"},
		refused:    map[string]string{"fontsdir": "reads fonts from a directory on the worker"},
	},
	"ass": {
		positional: []string{"filename", "original_size", "fontsdir", "alpha", "shaping"},
		aliases:    map[string]string{"f": "filename"},
		readsFile:  []string{"filename"},
		refused:    map[string]string{"fontsdir": "reads fonts from a directory on the worker"},
	},
	"drawtext": {
		positional: []string{"fontfile", "text", "textfile", "fontcolor", "fontcolor_expr", "boxcolor", "bordercolor",
			"shadowcolor", "box", "boxborderw", "line_spacing", "fontsize", "x", "y", "shadowx", "shadowy", "borderw",
			"tabsize", "basetime", "font", "expansion", "timecode", "tc24hmax", "timecode_rate", "reload", "alpha",
			"fix_bounds", "start_number", "text_source", "text_shaping", "ft_load_flags"},
		aliases:   map[string]string{"r": "timecode_rate", "rate": "timecode_rate"},
		readsFile: []string{"fontfile", "textfile"},
	},
	// Writes a Graphviz file of its colour tree wherever debug_kdtree says.
	"paletteuse": {
		positional: []string{"dither", "bayer_scale", "diff_mode", "new", "alpha_threshold", "use_alpha",
			"debug_kdtree", "color_search", "mean_err", "debug_accuracy"},
		refused: map[string]string{"debug_kdtree": "writes a debug file to a path of its own"},
	},
	"lut3d": {
		positional: []string{"file", "clut", "interp"},
		readsFile:  []string{"file"},
	},
	"lut1d": {
		positional: []string{"file", "interp"},
		readsFile:  []string{"file"},
	},
	"curves": {
		positional: []string{"preset", "master", "red", "green", "blue", "all", "psfile", "plot"},
		aliases:    map[string]string{"m": "master", "r": "red", "g": "green", "b": "blue"},
		readsFile:  []string{"psfile"},
		refused:    map[string]string{"plot": "writes a file"},
	},

	// Files written through a placeholder.
	"metadata":  metadataRule,
	"ametadata": metadataRule,
	"psnr": {
		positional: []string{"stats_file", "stats_version", "output_max"},
		aliases:    map[string]string{"f": "stats_file"},
		writesFile: []string{"stats_file"},
	},
	"ssim": {
		positional: []string{"stats_file"},
		aliases:    map[string]string{"f": "stats_file"},
		writesFile: []string{"stats_file"},
	},

	// Sizes and loops that are bounded.
	"scale": {
		positional: []string{"w", "h", "flags", "interl", "in_color_matrix", "out_color_matrix", "in_range", "out_range",
			"in_v_chr_pos", "in_h_chr_pos", "out_v_chr_pos", "out_h_chr_pos", "force_original_aspect_ratio", "force_divisible_by"},
		aliases:    map[string]string{"width": "w", "height": "h"},
		dimensions: []string{"w", "h"},
	},
	"pad": {
		positional: []string{"width", "height", "x", "y", "color", "eval", "aspect"},
		aliases:    map[string]string{"w": "width", "h": "height"},
		dimensions: []string{"width", "height"},
	},
	"loop":  {positional: []string{"loop", "size", "start"}, loops: true},
	"aloop": {positional: []string{"loop", "size", "start"}, loops: true},

	// Generated sources: duration required and bounded.
	"color":       {source: true, positional: []string{"color", "size", "rate", "duration", "sar"}, aliases: videoSourceAliases},
	"testsrc":     {source: true, positional: []string{"size", "rate", "duration", "sar", "decimals"}, aliases: videoSourceAliases},
	"testsrc2":    {source: true, positional: []string{"size", "rate", "duration", "sar", "alpha"}, aliases: videoSourceAliases},
	"smptebars":   {source: true, positional: []string{"size", "rate", "duration", "sar"}, aliases: videoSourceAliases},
	"smptehdbars": {source: true, positional: []string{"size", "rate", "duration", "sar"}, aliases: videoSourceAliases},
	"rgbtestsrc":  {source: true, positional: []string{"size", "rate", "duration", "sar", "complement"}, aliases: videoSourceAliases},
	"nullsrc":     {source: true, positional: []string{"size", "rate", "duration", "sar"}, aliases: videoSourceAliases},
	"sine": {source: true, positional: []string{"frequency", "beep_factor", "sample_rate", "duration", "samples_per_frame"},
		aliases: map[string]string{"f": "frequency", "b": "beep_factor", "r": "sample_rate", "d": "duration"}},
	"anullsrc": {source: true, positional: []string{"channel_layout", "sample_rate", "nb_samples", "duration"},
		aliases: map[string]string{"cl": "channel_layout", "r": "sample_rate", "n": "nb_samples", "d": "duration"}},
	"anoisesrc": {source: true, positional: []string{"sample_rate", "amplitude", "duration", "color", "seed", "nb_samples"},
		aliases: map[string]string{"r": "sample_rate", "a": "amplitude", "d": "duration", "c": "color", "colour": "color", "s": "seed", "n": "nb_samples"}},
}

var videoSourceAliases = map[string]string{"s": "size", "r": "rate", "d": "duration"}

var metadataRule = filterRule{
	positional: []string{"mode", "key", "value", "function", "expr", "file", "direct"},
	writesFile: []string{"file"},
}

// plainFilters shape pixels, samples or timing and touch nothing else.
var plainFilters = []string{
	// video geometry and timing
	"crop", "cropdetect", "fps", "framerate", "framestep", "format", "setpts", "settb", "trim", "tpad",
	"transpose", "hflip", "vflip", "rotate", "setsar", "setdar", "scale2ref", "tile", "untile", "select",
	"thumbnail", "reverse", "fieldorder", "yadif", "bwdif", "kerndeint", "deinterlace", "idet", "decimate",
	"mpdecimate", "setfield", "setparams", "setrange", "copy", "null", "split", "concat", "overlay",
	"hstack", "vstack", "xstack", "blend", "xfade", "fade", "interleave", "alphamerge", "alphaextract",
	"premultiply", "unpremultiply", "shuffleframes", "swapuv", "extractplanes", "mergeplanes", "palettegen",
	"zoompan", "minterpolate", "deflicker", "fillborders", "stereo3d", "lenscorrection",
	"perspective", "crossfeed", "showinfo", "blackdetect", "blackframe", "freezedetect", "scdet", "signalstats",
	"sidedata", "framepack", "separatefields", "weave", "telecine", "pullup", "fieldmatch", "random",
	"haldclut", "vignette",
	// video colour and look
	"eq", "hue", "huesaturation", "colorbalance", "colorchannelmixer", "colorlevels", "colorspace", "colormatrix",
	"colorkey", "chromakey", "colorhold", "chromahold", "colorize", "colorcorrect", "colortemperature", "lutrgb",
	"lutyuv", "lut", "geq", "negate", "grayworld", "histeq", "normalize", "tonemap", "zscale", "vibrance",
	"exposure", "monochrome", "pseudocolor", "backgroundkey",
	// video detail
	"boxblur", "gblur", "avgblur", "smartblur", "unsharp", "cas", "hqdn3d", "nlmeans", "atadenoise", "dctdnoiz",
	"fftdnoiz", "deband", "deblock", "noise", "edgedetect", "sobel", "prewitt", "roberts", "convolution",
	"erosion", "dilation", "median", "removegrain", "owdenoise", "vaguedenoiser", "pixelize", "elbg", "delogo",
	"drawbox", "drawgrid", "histogram", "waveform", "vectorscope", "oscilloscope", "datascope", "pixscope",
	"ciescope", "floodfill", "shear", "scroll", "swaprect", "maskedmerge", "threshold", "limiter",
	// audio
	"anull", "acopy", "asplit", "aformat", "aresample", "asetpts", "asettb", "atrim", "apad", "adelay",
	"afade", "acrossfade", "amix", "amerge", "join", "pan", "channelsplit", "channelmap", "volume",
	"volumedetect", "loudnorm", "dynaudnorm", "speechnorm", "acompressor", "alimiter", "agate", "compand",
	"mcompand", "highpass", "lowpass", "bandpass", "bandreject", "highshelf", "lowshelf", "treble", "bass",
	"equalizer", "superequalizer", "anequalizer", "aecho", "chorus", "flanger", "aphaser", "tremolo", "vibrato",
	"atempo", "asetrate", "rubberband", "areverse", "silenceremove", "silencedetect", "ebur128", "astats",
	"earwax", "stereotools", "stereowiden", "extrastereo", "crystalizer", "adeclick", "adeclip",
	"afftdn", "anlmdn", "asubboost", "asubcut", "asupercut", "dcshift", "acontrast", "aexciter",
	"asetnsamples", "aselect", "ashowinfo", "surround", "haas", "deesser", "acrusher", "aemphasis",
	"showwaves", "showwavespic", "showspectrum", "showspectrumpic", "showfreqs", "showvolume",
	"avectorscope", "ahistogram", "aphasemeter", "abitscope",
}

func init() {
	for _, name := range plainFilters {
		if _, ok := allowedFilters[name]; !ok {
			allowedFilters[name] = filterRule{}
		}
	}
}

// refusedFilters says why some well-known filters are not allowed, for a
// message more useful than "not on the list".
var refusedFilters = map[string]string{
	"movie":            "opens a file or URL of its own choosing",
	"amovie":           "opens a file or URL of its own choosing",
	"sendcmd":          "reads commands from a file and sends them to other filters",
	"asendcmd":         "reads commands from a file and sends them to other filters",
	"zmq":              "listens on a network socket for commands",
	"azmq":             "listens on a network socket for commands",
	"ladspa":           "loads and runs a shared library",
	"lv2":              "loads and runs a plugin",
	"frei0r":           "loads and runs a plugin",
	"frei0r_src":       "loads and runs a plugin",
	"dnn_processing":   "loads a model file",
	"dnn_detect":       "loads a model file",
	"dnn_classify":     "loads a model file",
	"sr":               "loads a model file",
	"derain":           "loads a model file",
	"arnndn":           "loads a model file",
	"ocr":              "loads recognition data from the worker",
	"asr":              "loads recognition models from the worker",
	"sofalizer":        "loads a SOFA file",
	"vidstabdetect":    "writes a file of its own choosing",
	"vidstabtransform": "reads a file of its own choosing",
	"signature":        "writes files of its own choosing",
	"libvmaf":          "reads a model and writes a log of its own choosing",
	"firequalizer":     "can write a dump file",
	"removelogo":       "reads a bitmap file",
	"find_rect":        "reads an image file",
	"cover_rect":       "reads an image file",
	"deshake":          "can write a log file",
	"program_opencl":   "runs OpenCL code",
	"openclsrc":        "runs OpenCL code",
	"libplacebo":       "loads shader files and uses a GPU device",
	"hwupload":         "uses a hardware device",
	"hwdownload":       "uses a hardware device",
	"hwmap":            "uses a hardware device",
	"realtime":         "makes the command wait in real time",
	"arealtime":        "makes the command wait in real time",
	"lensfun":          "reads a lens database",
	"mandelbrot":       "is an unbounded generated source",
	"life":             "is an unbounded generated source",
	"cellauto":         "can read a pattern file",
	"flite":            "can read a text file",
	"aevalsrc":         "is an unbounded generated source",
}
