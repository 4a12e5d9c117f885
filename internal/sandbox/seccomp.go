package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Why seccomp on top of the network namespace and Landlock: a pathname
// Unix socket on the host's filesystem (/run/docker.sock, a database's
// /var/run/postgresql/.s.PGSQL.5432) is reachable from any network
// namespace, and Landlock (through ABI 7 at least) does not restrict
// connect() to one. ffmpeg needs no socket at all in the sandbox: it has
// no network, and its threads talk through pipes. So socket(2) and
// socketpair(2) fail with EACCES, which also closes every other address
// family (netlink, packet, vsock...) whatever the kernel offers.

// seccomp_data offsets (linux/seccomp.h): int nr; __u32 arch; ...
const (
	seccompDataNR   = 0
	seccompDataArch = 4
)

// x32ABIBit marks x32 syscall numbers on amd64 (__X32_SYSCALL_BIT). x32
// calls pass the AUDIT_ARCH_X86_64 check but have their own numbers, so
// x32's socket() would not match SYS_SOCKET.
const x32ABIBit = 0x40000000

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC (linux/close_range.h, Linux
// 5.11), which golang.org/x/sys/unix does not define.
const closeRangeCloexec = 1 << 2

// bpfStmt and bpfJump are the BPF_STMT and BPF_JUMP macros of
// linux/filter.h.
func bpfStmt(code uint16, k uint32) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k}
}

func bpfJump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// socketFilter returns the seccomp program for goarch: a syscall made with
// another architecture's calling convention (i386's int 0x80 or x32 on
// amd64, AArch32 on arm64) kills the process, since its numbers mean other
// syscalls and would slip past the checks below; socket and socketpair
// fail with EACCES; everything else is allowed. Unknown architectures get
// an error: the helper then refuses to run the program.
func socketFilter(goarch string) ([]unix.SockFilter, error) {
	var arch, sysSocket, sysSocketpair uint32
	switch goarch {
	case "amd64":
		// x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl); written
		// out rather than taken from unix.SYS_*, which are those of the
		// architecture this file is compiled for.
		arch, sysSocket, sysSocketpair = unix.AUDIT_ARCH_X86_64, 41, 53
	case "arm64":
		// The generic table (include/uapi/asm-generic/unistd.h).
		arch, sysSocket, sysSocketpair = unix.AUDIT_ARCH_AARCH64, 198, 199
	default:
		return nil, fmt.Errorf("seccomp: no socket filter for GOARCH %s (only amd64 and arm64)", goarch)
	}
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K

		kill  = unix.SECCOMP_RET_KILL_PROCESS
		deny  = unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)
		allow = unix.SECCOMP_RET_ALLOW
	)
	prog := []unix.SockFilter{
		bpfStmt(ld, seccompDataArch),
		bpfJump(jeq, arch, 1, 0),
		bpfStmt(ret, kill),
		bpfStmt(ld, seccompDataNR),
	}
	if goarch == "amd64" {
		prog = append(prog,
			bpfJump(jset, x32ABIBit, 0, 1),
			bpfStmt(ret, kill),
		)
	}
	prog = append(prog,
		bpfJump(jeq, sysSocket, 2, 0),
		bpfJump(jeq, sysSocketpair, 1, 0),
		bpfStmt(ret, allow),
		bpfStmt(ret, deny),
	)
	return prog, nil
}

// denySockets installs socketFilter on every thread of this process (the
// helper), which the program inherits across exec. no_new_privs must
// already be set: without it (or CAP_SYS_ADMIN) the kernel refuses a
// filter.
func denySockets() error {
	prog, err := socketFilter(runtime.GOARCH)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// TSYNC: the Go runtime has several threads and syscall.Exec may run
	// on any of them; prctl(PR_SET_SECCOMP) would filter only this one.
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("seccomp: installing the socket filter: %w", errno)
	}
	if r != 0 {
		// With TSYNC, a positive return is a thread that could not be
		// synchronized; the filter then is on no thread.
		return fmt.Errorf("seccomp: thread %d could not take the socket filter", r)
	}
	return nil
}

// closeInheritedFDs marks every fd above stderr close-on-exec, so nothing
// the helper inherited (a caller's leaked file or socket, fds of whatever
// started the engine) reaches the program. The helper's own fds are
// already close-on-exec; it keeps using them until exec.
func closeInheritedFDs() error {
	err := unix.CloseRange(3, ^uint(0), closeRangeCloexec)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close_range: %w", err)
	}
	// Before Linux 5.11 (ENOSYS: no close_range; EINVAL: no CLOEXEC flag).
	return cloexecFromProcFD()
}

// cloexecFromProcFD is closeInheritedFDs the slow way, one fd at a time.
func cloexecFromProcFD() error {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing fds: %w", err)
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return fmt.Errorf("listing fds: %w", err)
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < 3 {
			continue
		}
		// FD_CLOEXEC is the only fd flag, so setting it outright loses
		// nothing. EBADF is the listing's own fd, closed by now.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
