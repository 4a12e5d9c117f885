package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// runBPF interprets the classic-BPF subset socketFilter uses over a
// seccomp_data of nr and arch, as the kernel would, and returns the action.
func runBPF(t *testing.T, prog []unix.SockFilter, nr int32, arch uint32) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.NativeEndian.PutUint32(data[seccompDataNR:], uint32(nr))
	binary.NativeEndian.PutUint32(data[seccompDataArch:], arch)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.NativeEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if acc&in.K != 0 {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

func TestSocketFilterProgram(t *testing.T) {
	const (
		kill  = unix.SECCOMP_RET_KILL_PROCESS
		deny  = unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)
		allow = unix.SECCOMP_RET_ALLOW
	)
	for _, tc := range []struct {
		goarch string
		arch   uint32
		calls  map[int32]uint32
	}{
		{"amd64", unix.AUDIT_ARCH_X86_64, map[int32]uint32{
			41: deny, 53: deny, // socket, socketpair
			0: allow, 2: allow, 22: allow, 59: allow, 257: allow, 293: allow, // read, open, pipe, execve, openat, pipe2
			42:             allow,                     // connect: harmless without a socket
			x32ABIBit + 41: kill, x32ABIBit + 0: kill, // x32's socket, read
		}},
		{"arm64", unix.AUDIT_ARCH_AARCH64, map[int32]uint32{
			198: deny, 199: deny, // socket, socketpair
			63: allow, 56: allow, 59: allow, 221: allow, 203: allow, // read, openat, pipe2, execve, connect
		}},
	} {
		prog, err := socketFilter(tc.goarch)
		if err != nil {
			t.Fatal(err)
		}
		for nr, want := range tc.calls {
			if got := runBPF(t, prog, nr, tc.arch); got != want {
				t.Errorf("%s syscall %#x: action %#x, want %#x", tc.goarch, nr, got, want)
			}
		}
		// Another ABI's numbers on the same kernel: i386 (socketcall is
		// 102, socket 359), AArch32, or the other 64-bit arch.
		for _, arch := range []uint32{unix.AUDIT_ARCH_I386, unix.AUDIT_ARCH_ARM, unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_AARCH64} {
			if arch == tc.arch {
				continue
			}
			for _, nr := range []int32{0, 41, 102, 198, 359} {
				if got := runBPF(t, prog, nr, arch); got != kill {
					t.Errorf("%s filter, arch %#x, syscall %d: action %#x, want kill", tc.goarch, arch, nr, got)
				}
			}
		}
	}
	if _, err := socketFilter("riscv64"); err == nil {
		t.Error("socketFilter accepted an architecture it has no numbers for")
	}
}

// TestCloexecFallback checks the /proc/self/fd loop used where close_range
// lacks CLOSE_RANGE_CLOEXEC, in this process: marking the test binary's fds
// close-on-exec is harmless to it.
func TestCloexecFallback(t *testing.T) {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
		t.Fatal("the fd is close-on-exec before the test")
	}
	if err := cloexecFromProcFD(); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d: flags %#x, err %v; want FD_CLOEXEC", fd, flags, err)
	}
}
