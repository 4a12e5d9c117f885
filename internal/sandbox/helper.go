package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// init turns this process into the sandbox helper when it was started as
// one: it never returns then. In every other process it only reads one
// environment variable.
func init() {
	raw, ok := os.LookupEnv(specEnv)
	if !ok {
		return
	}
	if err := runHelper(raw); err != nil {
		fmt.Fprintf(os.Stderr, "%s%v\n", HelperErrorPrefix, err)
		os.Exit(HelperFailedExit)
	}
}

// runHelper sets up the sandbox around itself and execs the program; it
// only returns on failure.
func runHelper(raw string) error {
	var spec Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("bad spec: %w", err)
	}
	if err := spec.validate(); err != nil {
		return err
	}
	if err := setLimits(spec.Limits); err != nil {
		return err
	}
	// Landlock sets no_new_privs itself; set it here too so that a
	// set-uid program can never gain privileges, whatever Landlock does.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	// Before Landlock, which hides /proc/sys where the last capability
	// number is read.
	if err := dropCapabilities(); err != nil {
		return err
	}
	if err := restrictFilesystem(&spec); err != nil {
		return err
	}
	if err := closeInheritedFDs(); err != nil {
		return err
	}
	// Last, so that nothing of the setup above needs a socket; the
	// self-test below then runs under the filter, as the program will.
	if err := denySockets(); err != nil {
		return err
	}
	if spec.SelfTest != nil {
		if err := spec.SelfTest.run(); err != nil {
			return err
		}
	}
	argv := append([]string{spec.Path}, spec.Args...)
	err := syscall.Exec(spec.Path, argv, spec.Env)
	return fmt.Errorf("exec %s: %w", spec.Path, err)
}

func setLimits(l Limits) error {
	for _, lim := range []struct {
		name     string
		resource int
		soft     uint64
		hard     uint64
	}{
		// The hard CPU limit is a little above the soft one: at the soft
		// limit the kernel sends SIGXCPU (ffmpeg's -timelimit handler exits
		// cleanly), at the hard one SIGKILL.
		{"RLIMIT_CPU", unix.RLIMIT_CPU, l.CPUSeconds, l.CPUSeconds + 5},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, l.FileBytes, l.FileBytes},
		{"RLIMIT_AS", unix.RLIMIT_AS, l.AddressSpaceBytes, l.AddressSpaceBytes},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, l.Processes, l.Processes},
		// No core dumps: they would land in the work dir, the size of the
		// address space.
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0, 0},
	} {
		if lim.soft == 0 && lim.resource != unix.RLIMIT_CORE {
			continue
		}
		rl := unix.Rlimit{Cur: lim.soft, Max: lim.hard}
		if err := unix.Setrlimit(lim.resource, &rl); err != nil {
			return fmt.Errorf("set %s: %w", lim.name, err)
		}
	}
	return nil
}

// run checks from inside that the sandbox holds: the file can't be opened,
// the TCP port can't be reached and no socket can be created.
func (t *selfTest) run() error {
	if t.MustNotCreateSocket {
		// AF_UNIX: the family that reaches the host's socket files
		// despite the empty network namespace. EACCES is the seccomp
		// filter's answer; any other outcome means it does not hold.
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			return errors.New("self-test: a Unix socket could be created: the seccomp socket filter is not in force")
		}
		if !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("self-test: creating a Unix socket failed with %v, not with the seccomp filter's EACCES", err)
		}
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(pair[0])
			unix.Close(pair[1])
			return errors.New("self-test: a socket pair could be created: the seccomp socket filter is not in force")
		}
		if !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("self-test: socketpair failed with %v, not with the seccomp filter's EACCES", err)
		}
	}
	if t.MustNotRead != "" {
		fd, err := unix.Open(t.MustNotRead, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			return fmt.Errorf("self-test: %s outside the sandbox could be opened: the filesystem is not restricted", t.MustNotRead)
		}
		if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("self-test: opening %s failed with %v, not with a permission error", t.MustNotRead, err)
		}
	}
	if t.MustNotConnect != "" {
		ap, err := netip.ParseAddrPort(t.MustNotConnect)
		if err != nil || !ap.Addr().Is4() {
			return fmt.Errorf("self-test: bad address %q", t.MustNotConnect)
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil // no socket at all is fine too
		}
		defer unix.Close(fd)
		err = unix.Connect(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
		if err == nil {
			return fmt.Errorf("self-test: connected to %s on the host's loopback: the network is not isolated", t.MustNotConnect)
		}
	}
	return nil
}
