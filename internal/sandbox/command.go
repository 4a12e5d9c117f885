package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// Mode is how the sandbox gets its namespaces.
type Mode int

const (
	// ModeUserNamespace starts the helper in a new user namespace (with the
	// engine's uid and gid mapped to themselves) and, inside it, new
	// network, IPC and UTS namespaces. It needs no privilege where the
	// kernel allows unprivileged user namespaces, and it leaves the program
	// no capability over the host even when the engine runs as root.
	ModeUserNamespace Mode = iota + 1
	// ModeNetworkNamespace creates the network, IPC and UTS namespaces
	// directly. It needs CAP_SYS_ADMIN (root) and is the fallback where
	// user namespaces are disabled (e.g. Docker's default seccomp profile).
	// RLIMIT_NPROC does not apply to root, so Limits.Processes is not set.
	ModeNetworkNamespace
)

func (m Mode) String() string {
	switch m {
	case ModeUserNamespace:
		return "user+network namespaces"
	case ModeNetworkNamespace:
		return "network namespace"
	}
	return "none"
}

// selfExe is the helper binary: this very program, whatever it is named or
// wherever it moved since it started.
const selfExe = "/proc/self/exe"

// Command returns a command that runs spec in the sandbox. The caller sets
// Dir, Stdout, Stderr and Cancel, and starts it. It runs in its own
// process group and gets SIGKILL if the engine's thread that started it
// dies.
func Command(ctx context.Context, spec Spec, mode Mode) (*exec.Cmd, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if mode != ModeUserNamespace {
		spec.Limits.Processes = 0
	}
	enc, err := spec.encode()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, selfExe)
	cmd.Args = []string{"openrender-sandbox"}
	cmd.Env = []string{specEnv + "=" + enc}
	attr := &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
	}
	switch mode {
	case ModeUserNamespace:
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		// The same ids inside and out: files the engine created stay the
		// program's own, and nothing else is mapped.
		uid, gid := os.Getuid(), os.Getgid()
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	case ModeNetworkNamespace:
	default:
		return nil, fmt.Errorf("sandbox: unknown mode %d", mode)
	}
	cmd.SysProcAttr = attr
	return cmd, nil
}
