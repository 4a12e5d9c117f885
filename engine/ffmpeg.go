package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// engineArgs come before the user's: no banner or progress lines to crowd
// the stderr tail, never read stdin, overwrite (the work dir is fresh, but a
// chain's later step may rewrite an intermediate file).
var engineArgs = []string{"-hide_banner", "-nostats", "-nostdin", "-y"}

// inputProtocols is the -protocol_whitelist the engine puts before every
// input: ffmpeg only ever reads local files, which the engine downloaded.
// Nested references (HLS segments, DASH BaseURLs, concat entries) are held
// to it too, so a playlist can't make ffmpeg fetch URLs; crypto and data
// are local (AES-128 HLS keys and segments in the work dir, inline data:
// URIs). Which files it may read is the sandbox's job.
const inputProtocols = "file,crypto,data"

// withEngineArgs returns the full argument list for one step: the engine's
// global options, a CPU time limit (-timelimit, backed by RLIMIT_CPU in the
// sandbox), and before every -i the protocol whitelist and -max_pixels.
func withEngineArgs(argv []string, cpuSeconds, maxPixels int64) []string {
	out := make([]string, 0, len(engineArgs)+len(argv)+16)
	out = append(out, engineArgs...)
	out = append(out, progressArgs...)
	out = append(out, "-timelimit", strconv.FormatInt(cpuSeconds, 10))
	for _, a := range argv {
		if a == "-i" {
			out = append(out, "-protocol_whitelist", inputProtocols, "-max_pixels", strconv.FormatInt(maxPixels, 10))
		}
		out = append(out, a)
	}
	return out
}

// cpuSecondsFor is the CPU time a step may use: its wall-clock budget on
// every core, plus a second. The wall-clock timeout is what normally stops
// a run; the CPU limit is the backstop that holds even if the engine can't
// (it is the kernel that enforces it).
func cpuSecondsFor(timeout time.Duration) int64 {
	return int64(math.Ceil(timeout.Seconds()))*int64(runtime.NumCPU()) + 1
}

// runFFmpeg runs one ffmpeg step in dir and classifies a failure.
// inputURLs and paths map aliases to what the user gave and to the relative
// paths on the command line, to tell an unreadable input from other failures.
func (e *Engine) runFFmpeg(ctx context.Context, dir string, argv []string, timeout time.Duration,
	inputURLs map[string]string, paths map[string]string, progress io.Writer) (time.Duration, error) {
	if timeout <= 0 {
		return 0, failf(ErrorTimeout, "the command used up its max_command_run_seconds before this step started")
	}
	cpuSeconds := cpuSecondsFor(timeout)
	spec := RunSpec{
		Path: e.cfg.FFmpegPath,
		Args: withEngineArgs(argv, cpuSeconds, e.cfg.MaxPixels),
		Dir:  dir,
		// A minimal environment: nothing of the engine's (credentials,
		// proxies, FFREPORT, LD_*) reaches ffmpeg.
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"HOME=" + filepath.Join(dir, tmpDir),
			"TMPDIR=" + filepath.Join(dir, tmpDir),
			"LC_ALL=C.UTF-8",
		},
		Timeout:         timeout,
		StderrTailBytes: e.cfg.StderrTailBytes,
		MaxFileBytes:    e.cfg.MaxOutputBytes,
		MaxCPUSeconds:   cpuSeconds,
		MaxMemoryBytes:  e.cfg.MaxMemoryBytes,
		MaxProcesses:    e.cfg.MaxProcesses,
		Writable:        writableDirs(dir),
		Stdout:          progress,
	}
	res, err := e.runner.Run(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return res.Duration, ctx.Err()
		}
		return res.Duration, fmt.Errorf("start ffmpeg: %w", err)
	}
	if res.TimedOut {
		return res.Duration, failf(ErrorTimeout, "ffmpeg ran longer than max_command_run_seconds (%s) and was stopped",
			formatSeconds(timeout))
	}
	if res.ExitCode == 0 {
		return res.Duration, nil
	}
	truncated := len(res.StderrTail) >= e.cfg.StderrTailBytes
	tail := cleanStderr(res.StderrTail, truncated, dir)
	if res.Signal == syscall.SIGXFSZ {
		return res.Duration, failf(ErrorOutputTooLarge, "ffmpeg tried to write a file larger than the %d-byte output limit and was stopped", e.cfg.MaxOutputBytes)
	}
	if res.Signal == syscall.SIGXCPU {
		return res.Duration, failf(ErrorTimeout, "ffmpeg used more than its %d CPU seconds and was stopped", cpuSeconds)
	}
	if alias, reason := unreadableInput(tail, inputURLs, paths); alias != "" {
		return res.Duration, failf(ErrorInvalidInputFile, "input %s (%s) is not a media file ffmpeg can read: %s",
			alias, redactURL(inputURLs[alias]), reason)
	}
	how := fmt.Sprintf("exit status %d", res.ExitCode)
	if res.Signal != 0 {
		how = "signal " + res.Signal.String()
	}
	if tail == "" {
		return res.Duration, failf(ErrorFFmpegFailed, "ffmpeg failed (%s) and printed nothing", how)
	}
	return res.Duration, failf(ErrorFFmpegFailed, "ffmpeg failed (%s): %s", how, tail)
}

// unreadableInput finds ffmpeg's "<input path>: <reason>" line, which it
// prints when it can't open or recognise an input, and returns that input's
// alias and the reason.
func unreadableInput(stderr string, inputURLs, paths map[string]string) (alias, reason string) {
	aliases := make([]string, 0, len(inputURLs))
	for a := range inputURLs {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	for _, line := range strings.Split(stderr, "\n") {
		for _, a := range aliases {
			if r, ok := strings.CutPrefix(line, paths[a]+": "); ok {
				return a, strings.TrimSpace(r)
			}
		}
	}
	return "", ""
}

// cleanStderr makes the stderr tail fit for a user: valid UTF-8, no engine
// paths, no half line at the start of a truncated tail, no blank ends.
func cleanStderr(tail []byte, truncated bool, dir string) string {
	if truncated {
		if i := bytes.IndexByte(tail, '\n'); i >= 0 {
			tail = tail[i+1:]
		}
	}
	s := string(bytes.ToValidUTF8(tail, []byte("?")))
	s = strings.ReplaceAll(s, "\r", "\n")
	s = scrubPaths(s, dir)
	return strings.TrimSpace(s)
}

func formatSeconds(d time.Duration) string {
	return strings.TrimSuffix(fmt.Sprintf("%.3f", d.Seconds()), ".000") + " s"
}
