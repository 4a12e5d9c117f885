package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// ErrNotMedia means ffprobe cannot read the file as media: it is not a
// media file, it is empty or truncated, or it holds no usable stream. The
// engine reports such files as INVALID_INPUT_FILE.
var ErrNotMedia = errors.New("not a media file")

const (
	// defaultTimeout bounds one probe when Prober.Timeout is zero. ffprobe
	// reads only headers and a few packets, so 30 s is generous even for
	// large files on slow disks, and short enough that a hostile file cannot
	// hold a worker.
	defaultTimeout = 30 * time.Second

	// maxStdoutBytes caps what ffprobe may print. Real output is a few KiB
	// per stream; a file claiming thousands of streams is not worth parsing.
	maxStdoutBytes = 4 << 20
	// maxStderrBytes is how much of ffprobe's stderr tail is kept: enough for
	// its reason, not enough to flood a log or an error message.
	maxStderrBytes = 8 << 10
	// maxReasonBytes caps the reason quoted in an error message.
	maxReasonBytes = 512
	// waitDelay is how long to wait for ffprobe's pipes after killing it.
	waitDelay = 2 * time.Second
)

// probeEnv is ffprobe's whole environment: nothing from the engine (no
// credentials, no proxy settings, no FFREPORT) leaks into it.
var probeEnv = []string{"PATH=/usr/bin:/bin"}

// Prober reads the facts of media files: natively for the MP4 family files
// it fully understands, with ffprobe otherwise. The zero value is ready to
// use, and a Prober is safe for concurrent use because Probe keeps no state
// between calls.
type Prober struct {
	// FFprobePath is the ffprobe binary; empty means "ffprobe" looked up in
	// the engine's PATH.
	FFprobePath string
	// Timeout bounds each probe; zero means 30 seconds.
	Timeout time.Duration
	// Runner runs ffprobe; nil means ExecFFprobe, a plain child process.
	// ffprobe parses untrusted files (and follows playlists), so an
	// embedder that sandboxes ffmpeg should run ffprobe the same way. The
	// native MP4 reader does not use it.
	Runner FFprobeRunner

	// ffprobeOnly turns off the native MP4 reader (tests and benchmarks
	// compare the two paths).
	ffprobeOnly bool
}

// Probe returns the facts of the file at path. MP4, MOV and M4A files the
// native reader fully understands are read without starting ffprobe (the
// facts are the same as ffprobe's); everything else is probed by ffprobe. A
// file that is not readable media yields an error wrapping ErrNotMedia with
// ffprobe's reason; a missing file yields an error wrapping fs.ErrNotExist;
// a probe cut short yields the context's error (context.DeadlineExceeded on
// timeout). Error messages name the file by its base name only.
func (p *Prober) Probe(ctx context.Context, path string) (Info, error) {
	if p == nil {
		p = &Prober{}
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return Info{}, fmt.Errorf("media: probe %q: %w", filepath.Base(path), err)
	}
	dir, name := filepath.Split(absPath)

	stat, err := os.Stat(absPath)
	if err != nil {
		return Info{}, fmt.Errorf("media: probe %q: %w", name, withoutPath(err))
	}
	if stat.IsDir() {
		return Info{}, fmt.Errorf("media: probe %q: is a directory", name)
	}

	if err := checkReferences(dir, name); err != nil {
		var notMedia *notMediaError
		if errors.As(err, &notMedia) {
			notMedia.name = name
		}
		return Info{}, err
	}

	// MP4, MOV and M4A files, the engine's most common outputs, are read
	// natively when the reader can vouch for every fact; ffprobe decides
	// otherwise.
	if !p.ffprobeOnly && ctx.Err() == nil {
		if info, ok := probeMP4File(absPath, name); ok {
			return info, nil
		}
	}

	binary, err := p.binary()
	if err != nil {
		return Info{}, err
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	probeCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// ffprobe runs in the file's directory and is given "file:<name>": the
	// explicit protocol means a name such as "-i" or "x|y" is never read as an
	// option or another protocol, and the relative name keeps the engine's
	// work directory out of everything ffprobe prints.
	input := "file:" + name
	runner := p.Runner
	if runner == nil {
		runner = ExecFFprobe{}
	}
	res, runErr := runner.RunFFprobe(probeCtx, FFprobeCommand{
		Path: binary,
		Args: []string{
			"-v", "error",
			// Only local files: a playlist must not make ffprobe fetch URLs or
			// read through other protocols (SSRF, local file disclosure).
			"-protocol_whitelist", "file,crypto",
			"-print_format", "json",
			"-show_format", "-show_streams",
			input,
		},
		Dir:            dir,
		Env:            probeEnv,
		MaxStdoutBytes: maxStdoutBytes,
		MaxStderrBytes: maxStderrBytes,
	})
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Info{}, fmt.Errorf("media: probe %q: %w", name, ctxErr)
	}
	if probeCtx.Err() != nil {
		return Info{}, fmt.Errorf("media: probe %q: ffprobe ran past %s: %w", name, timeout, context.DeadlineExceeded)
	}
	if runErr != nil {
		return Info{}, fmt.Errorf("media: probe %q: run ffprobe: %w", name, runErr)
	}
	reason := ffprobeReason(string(res.StderrTail), dir, name, input)
	if res.ExitCode != 0 {
		if res.ExitCode < 0 || res.Signal != 0 {
			how := "killed by a signal"
			if res.Signal != 0 {
				how = "signal: " + res.Signal.String()
			}
			return Info{}, fmt.Errorf("media: probe %q: ffprobe stopped (%s): %s", name, how, reason)
		}
		if isHostFailure(reason) {
			return Info{}, fmt.Errorf("media: probe %q: ffprobe failed: %s", name, reason)
		}
		if reason == "" {
			reason = fmt.Sprintf("ffprobe exited with status %d", res.ExitCode)
		}
		return Info{}, &notMediaError{name: name, reason: reason}
	}
	if res.StdoutTruncated {
		return Info{}, &notMediaError{name: name, reason: fmt.Sprintf("ffprobe output exceeds %d MiB", maxStdoutBytes>>20)}
	}

	var out ffprobeOutput
	if err := json.Unmarshal(res.Stdout, &out); err != nil {
		return Info{}, fmt.Errorf("media: probe %q: unreadable ffprobe output: %w", name, err)
	}
	info, err := describe(&out, name)
	if err != nil {
		var notMedia *notMediaError
		if errors.As(err, &notMedia) {
			// ffprobe's own complaint (for example "chunk too big") says more
			// than "no decodable stream".
			if reason != "" {
				notMedia.reason = reason
			}
			notMedia.name = name
		}
		return Info{}, err
	}
	return info, nil
}

// binary resolves the ffprobe to run. A path with a directory part is made
// absolute because the command runs in the probed file's directory.
func (p *Prober) binary() (string, error) {
	path := p.FFprobePath
	if path == "" {
		path = "ffprobe"
	}
	if !strings.ContainsRune(path, filepath.Separator) {
		resolved, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("media: ffprobe not found: %w", err)
		}
		path = resolved
	}
	absolute, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("media: ffprobe path: %w", err)
	}
	return absolute, nil
}

// notMediaError carries ffprobe's reason for rejecting a file and matches
// ErrNotMedia with errors.Is.
type notMediaError struct {
	name   string // base name of the file, empty when parsing captured output
	reason string
}

func (e *notMediaError) Error() string {
	var b strings.Builder
	b.WriteString("media: ")
	if e.name != "" {
		fmt.Fprintf(&b, "probe %q: ", e.name)
	}
	b.WriteString(ErrNotMedia.Error())
	if e.reason != "" {
		b.WriteString(": ")
		b.WriteString(e.reason)
	}
	return b.String()
}

func (e *notMediaError) Unwrap() error { return ErrNotMedia }

// withoutPath drops the path from an *fs.PathError, keeping the cause (which
// still matches fs.ErrNotExist, fs.ErrPermission, ...).
func withoutPath(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}

// hostFailures are ffprobe reasons that describe the machine, not the file;
// they must not be blamed on the user's input.
var hostFailures = []string{
	"No such file or directory",
	"Permission denied",
	"Cannot allocate memory",
	"Too many open files",
	"Input/output error",
	"No space left on device",
}

func isHostFailure(reason string) bool {
	for _, failure := range hostFailures {
		if strings.Contains(reason, failure) {
			return true
		}
	}
	return false
}

// logContext matches the "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55bd...] " prefix
// ffmpeg puts on a component's messages; the address changes every run and
// means nothing to a user.
var logContext = regexp.MustCompile(`^\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*`)

// ffprobeReason turns ffprobe's stderr into one line for an error message:
// log prefixes, the file's own name and any directory are removed, repeats
// are dropped, and the result is capped.
func ffprobeReason(stderr, dir, name, input string) string {
	var parts []string
	seen := map[string]bool{}
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		line = logContext.ReplaceAllString(line, "")
		if trimmed := strings.TrimSuffix(dir, string(filepath.Separator)); trimmed != "" {
			line = strings.ReplaceAll(line, trimmed+string(filepath.Separator), "")
			line = strings.ReplaceAll(line, trimmed, "")
		}
		line = strings.TrimPrefix(line, input+": ")
		line = strings.TrimPrefix(line, name+": ")
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		parts = append(parts, line)
	}
	reason := strings.Join(parts, "; ")
	if len(reason) > maxReasonBytes {
		reason = strings.ToValidUTF8(reason[:maxReasonBytes], "") + "…"
	}
	return reason
}

// cappedBuffer keeps the first limit bytes written and discards the rest
// while still accepting writes, so ffprobe is never blocked on a full pipe.
//
// The buffer is a field, not embedded: an embedded bytes.Buffer would promote
// ReadFrom, and io.Copy (which os/exec uses) would call it and bypass the cap.
type cappedBuffer struct {
	buf        bytes.Buffer
	limit      int
	overflowed bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	if len(p) > room {
		b.overflowed = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }

// tailBuffer keeps the last limit bytes written: ffprobe's reason for failing
// comes last.
type tailBuffer struct {
	data  []byte
	limit int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.data = append(b.data, p...)
	if excess := len(b.data) - b.limit; excess > 0 {
		b.data = append(b.data[:0], b.data[excess:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string { return string(b.data) }
