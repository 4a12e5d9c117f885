// Package media reads the facts of a media file with ffprobe and turns them
// into the contract's output-file facts (duration, file_type, file_format,
// mime_type, codec, pixel_format, width, height, frame_rate,
// bitrate_video_kb, bitrate_audio_kb, sample_rate, channels).
//
// Starting ffprobe costs tens of milliseconds, so MP4, MOV, M4A and 3GP
// files (the engine's most common outputs) are first read natively (mp4.go):
// the reader reproduces what ffprobe 5.1 would report for them, down to its
// bitrate and frame rate arithmetic and the pixel format its decoders derive
// from the codec configuration, and gives the file to ffprobe whenever it
// meets anything it does not reproduce exactly (fragments, encryption, an
// unknown codec or profile, an unusual edit list, ...). The reader is bounded
// on hostile input: a capped moov box read through a small buffer, streamed
// sample tables, capped counts of boxes, tracks and samples. A differential
// test holds it to ffprobe's output on files generated with ffmpeg.
//
// The engine probes every file ffmpeg writes and every file a user uploads or
// asks it to store, so the package is built to be safe on hostile input:
// ffprobe runs as a plain argv (never through a shell) with a minimal
// environment, no stdin, a time limit, a cap on the output it may produce, and
// a protocol whitelist so a playlist cannot make it fetch URLs. Error messages
// carry ffprobe's own reason but never the directory of the probed file,
// because that directory is the engine's private work area.
//
// The whitelist does not stop local reads: an HLS playlist or DASH manifest
// naming "/srv/work/<another job>/out.ts" would make ffprobe open that file.
// So before ffprobe runs, a playlist or manifest (and any playlist it names)
// is read and refused with ErrNotMedia unless every file it names is a
// relative path below its own directory, which is how ffmpeg's own HLS and
// DASH outputs are written. IMF compositions, which name files through a
// separate asset map, are refused outright. This narrows what ffprobe can be
// tricked into reading; it does not replace running it in a sandbox.
//
// # Classification
//
// file_type is decided from the streams ffprobe reports, not from the file
// name:
//
//   - "image": a still-image demuxer (image2, png_pipe, jpeg_pipe, webp_pipe,
//     bmp_pipe, tiff_pipe, ...), or an image format that may be animated
//     (gif, apng), with no audio. An animated GIF is an "image" with
//     mime_type image/gif, because that is how people use GIFs and how the
//     file is served; unlike a still image it keeps its duration and
//     frame_rate so a caller can still tell it moves.
//   - "video": any other picture stream that is not an attached picture
//     (cover art in an mp3 or m4a does not make the file a video).
//   - "audio": audio streams and no real picture stream.
//   - "other": anything else ffprobe can open, such as a subtitle file.
//
// file_format is a short, user-facing name: the file's extension when it
// agrees with what ffprobe detected ("mp4", "mov", "m4a", "webm", "mkv",
// "ts", "m3u8", "jpg"), otherwise a name derived from ffprobe's format_name
// (for example "mov,mp4,m4a,3gp,3g2,mj2" becomes "mp4", "png_pipe" becomes
// "png"), so a file with a misleading extension is described by its content.
//
// Facts that do not apply are omitted rather than reported as zero: still
// images have no duration, frame rate or bitrate; audio files have no width
// or height (even with cover art); bitrates that neither the stream nor the
// container state, and that cannot be derived from the container's total
// (Matroska and WebM often state none), are left out instead of guessed.
package media
