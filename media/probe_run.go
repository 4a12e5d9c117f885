package media

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
)

// FFprobeCommand is one ffprobe run as Prober wants it started. A
// FFprobeRunner may wrap it (in a sandbox, say) but must keep its meaning:
// the program, the arguments, the working directory and the environment.
type FFprobeCommand struct {
	// Path is the ffprobe binary, an absolute path.
	Path string
	// Args are the arguments after the program name. The input is named
	// relative to Dir.
	Args []string
	// Dir is the working directory: the probed file's directory. ffprobe
	// needs to read nothing else but the system's files and its own
	// binary, so a confining runner may let it read only this dir; a
	// playlist pointing elsewhere then fails to open its references.
	Dir string
	// Env is ffprobe's whole environment; nothing may be inherited.
	Env []string
	// MaxStdoutBytes is how much of stdout to keep; past it, the rest is
	// read and discarded (ffprobe must never block on a full pipe) and
	// FFprobeResult.StdoutTruncated is set.
	MaxStdoutBytes int
	// MaxStderrBytes is how much of the end of stderr to keep.
	MaxStderrBytes int
}

// FFprobeResult is how an ffprobe run ended.
type FFprobeResult struct {
	// Stdout is the start of stdout, at most MaxStdoutBytes.
	Stdout []byte
	// StdoutTruncated: ffprobe printed more than MaxStdoutBytes.
	StdoutTruncated bool
	// StderrTail is the end of stderr, at most MaxStderrBytes.
	StderrTail []byte
	// ExitCode is the exit status, or -1 if a signal ended ffprobe.
	ExitCode int
	// Signal is the signal that ended ffprobe, or 0.
	Signal syscall.Signal
}

// FFprobeRunner runs ffprobe for a Prober. It lets an embedder (the engine)
// confine ffprobe the way it confines ffmpeg without this package knowing
// how.
type FFprobeRunner interface {
	// RunFFprobe runs cmd to completion. When ctx is done it must kill
	// ffprobe (and anything it started) and return promptly. An error
	// means ffprobe could not be run at all; a non-zero exit is a result,
	// not an error.
	RunFFprobe(ctx context.Context, cmd FFprobeCommand) (FFprobeResult, error)
}

// ExecFFprobe runs ffprobe as a plain child process, with the command's
// environment only: no isolation beyond that. It is what a Prober without a
// Runner uses.
type ExecFFprobe struct{}

// RunFFprobe implements FFprobeRunner.
func (ExecFFprobe) RunFFprobe(ctx context.Context, c FFprobeCommand) (FFprobeResult, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never inherit the caller's environment
	}
	cmd.Stdin = nil
	stdout := &cappedBuffer{limit: c.MaxStdoutBytes}
	stderr := &tailBuffer{limit: c.MaxStderrBytes}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay

	runErr := cmd.Run()
	res := FFprobeResult{Stdout: stdout.Bytes(), StdoutTruncated: stdout.overflowed, StderrTail: stderr.data}
	if runErr == nil {
		return res, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(runErr, &exitErr) {
		return res, runErr
	}
	res.ExitCode = exitErr.ExitCode()
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
	}
	return res, nil
}
