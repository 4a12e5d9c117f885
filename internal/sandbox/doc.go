// Package sandbox runs a program (ffmpeg) with no network, a filesystem
// view limited by Landlock, resource limits and an explicit environment.
//
// # How
//
// The engine's own binary doubles as the sandbox helper. Command starts
// /proc/self/exe in fresh network, IPC and UTS namespaces (and a user
// namespace when the kernel allows one, which is what lets an unprivileged
// engine create the others), in its own process group, with the whole
// Spec in one environment variable. This package's init function sees that
// variable before any other code of the program runs its main, sets the
// rlimits, applies Landlock (which also sets no_new_privs), marks every
// inherited fd above stderr close-on-exec, installs a seccomp filter that
// refuses socket(2) and socketpair(2), and syscall.Exec's the program. Exec replaces the helper, so the program is
// the direct child of the engine: no extra process sits in the command's
// path, and killing the process group or the engine kills it.
//
// # Why a re-executed helper
//
// Landlock restricts the calling process, and go-landlock applies it to
// every thread of the Go process. It must never run in the engine itself,
// which has to keep reading inputs and writing outputs of every command.
// Between fork and exec a Go program can't run Go code, so the restriction
// happens in a fresh copy of the binary instead. Doing it from init means
// every binary that links the engine (the server, an embedding
// application, test binaries) is its own helper without a main() hook.
//
// # What the sandbox allows
//
// Reading (and executing) the system's read-only files: /usr, /lib*, the
// dynamic linker's cache, fontconfig's configuration and cache, a few
// device files and /proc/self. Reading the dirs in Spec.ReadOnly and
// reading and writing the dirs in Spec.Writable, where it may create
// regular files and directories but no symlinks, FIFOs, sockets or device
// nodes. Nothing else of the filesystem; no network at all (an empty
// network namespace, and Landlock's TCP rules where the kernel has them);
// no socket of any family, since a pathname Unix socket on the host is
// reachable from any network namespace (see seccomp.go); no fd but 0, 1
// and 2 from whoever started it.
package sandbox
