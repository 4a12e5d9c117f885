package sandbox

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// MinLandlockABI is the lowest Landlock ABI the sandbox accepts. ABI 1
// already restricts every file access the sandbox relies on; later ABIs add
// truncation, TCP, IOCTL and IPC scoping, which go-landlock applies when the
// kernel has them.
const MinLandlockABI = 1

// SystemReadOnlyPaths are readable (and executable) in every sandbox: the
// programs and libraries, the dynamic linker's cache, fontconfig for
// drawtext/subtitles, and the timezone. Missing ones are skipped. /etc is
// deliberately not whole: it would let a command read the host's name,
// users and configuration into its output.
var SystemReadOnlyPaths = []string{
	"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/fonts", "/var/cache/fontconfig", "/etc/localtime",
	"/dev/urandom", "/dev/random", "/dev/zero",
	// glibc reads the online CPUs from here (ffmpeg sizes thread pools by them).
	"/sys/devices/system/cpu",
	// ffmpeg and its libraries read their own /proc entries (maps, status).
	"/proc/self",
}

// readWriteDevices are writable device files: ffmpeg writes "-f null"
// output and some libraries write diagnostics to /dev/null.
var readWriteDevices = []string{"/dev/null"}

// Rights inside the run's dirs: no execute (a downloaded "video" can't be
// exec'd), and no symlinks, FIFOs, sockets or device nodes, which could
// trick the engine's uploader or other readers of the work dir.
const (
	readRights  = ll.AccessFSReadFile | ll.AccessFSReadDir
	writeRights = readRights | ll.AccessFSWriteFile | ll.AccessFSTruncate |
		ll.AccessFSMakeReg | ll.AccessFSMakeDir | ll.AccessFSRemoveFile | ll.AccessFSRemoveDir
)

// LandlockABI returns the kernel's Landlock ABI version, 0 if it has none.
func LandlockABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// restrictFilesystem applies Landlock to this process (the helper): every
// file access, TCP bind/connect and IPC scope the kernel can restrict is
// denied except what the rules grant.
func restrictFilesystem(spec *Spec) error {
	if abi := LandlockABI(); abi < MinLandlockABI {
		return fmt.Errorf("the kernel has no Landlock (ABI %d; need %d): enable CONFIG_SECURITY_LANDLOCK and lsm=landlock", abi, MinLandlockABI)
	}
	var rules []landlock.Rule
	system := append(append([]string(nil), SystemReadOnlyPaths...), filepath.Dir(spec.Path))
	for _, p := range system {
		if r, ok := readRule(p, true); ok {
			rules = append(rules, r)
		}
	}
	for _, p := range readWriteDevices {
		if _, err := os.Stat(p); err == nil {
			rules = append(rules, landlock.RWFiles(p))
		}
	}
	for _, p := range spec.ReadOnly {
		if r, ok := readRule(p, false); ok {
			rules = append(rules, r)
		}
	}
	for _, p := range spec.Writable {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("writable dir %s: not a directory", p)
		}
		rules = append(rules, landlock.PathAccess(writeRights, p))
	}
	// BestEffort downgrades to what this kernel supports; the ABI check
	// above guarantees that means a real restriction, never none.
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	return nil
}

// readRule grants reading p: a dir's whole tree or a single file, with
// execute only for system paths.
func readRule(p string, exec bool) (landlock.Rule, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, false
	}
	switch {
	case exec && fi.IsDir():
		return landlock.RODirs(p), true
	case exec:
		return landlock.ROFiles(p), true
	case fi.IsDir():
		return landlock.PathAccess(readRights, p), true
	default:
		return landlock.PathAccess(ll.AccessFSReadFile, p), true
	}
}
