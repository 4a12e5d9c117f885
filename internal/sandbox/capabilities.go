package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropCapabilities empties the capability bounding set and the ambient
// set, so that the program holds no capability after exec, even as uid 0.
// In the fallback mode (root, no user namespace) ffmpeg would otherwise
// run as real root with every capability, held back by Landlock alone; in
// the user-namespace mode its capabilities only reach that namespace, and
// dropping them costs nothing. Files stay reachable: the work dir belongs
// to the engine's uid, which ffmpeg keeps, and the rest is world-readable.
//
// The bounding set is per thread; the helper runs in init, on the main
// thread, which the Go runtime keeps locked to the main goroutine until
// main starts, and execs from that same thread.
func dropCapabilities() error {
	last := lastCapability()
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	// Ambient capabilities (Linux 4.3+) survive exec for non-root; clear
	// them too. EINVAL means the kernel has none.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	return nil
}

// lastCapability is the highest capability number this kernel knows.
// Dropping past it gives EINVAL, so a generous default is safe.
func lastCapability() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return 63
}
