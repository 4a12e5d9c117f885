package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A node lock is a file, WorkDir/nodes/<node id>.lock, that an engine
// process holds an exclusive flock on for as long as it lives. Processes
// sharing a work dir (and so a host) use it to tell a dead peer from a slow
// one without waiting for leases to expire.
type nodeLock struct {
	id   string
	f    *os.File
	path string
}

func nodesDir(workDir string) string { return filepath.Join(workDir, "nodes") }

// lockNode takes this process's node lock. A node id held by a live process
// is an error: two processes with one id would release each other's leases.
func lockNode(workDir, id string) (*nodeLock, error) {
	dir := nodesDir(workDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("engine: node lock dir: %w", err)
	}
	path := filepath.Join(dir, id+".lock")
	// A reaper may lock a file we just created and remove it, taking it for
	// a dead process's; then we hold a lock on a file nobody can see.
	// Retry until the locked file is the one at path.
	for try := 0; try < 10; try++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("engine: node lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("engine: node lock: %w", err)
			}
			// Held: by a live process with our id, or, for a moment, by
			// a reaper that took our new file for a dead one's.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if lockedFileIsAt(f, path) {
			return &nodeLock{id: id, f: f, path: path}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("engine: node id %q is in use by a running engine process (its lock %s is held)", id, path)
}

// lockedFileIsAt reports whether f is the file now at path (not one that
// was removed, or replaced, after f was opened).
func lockedFileIsAt(f *os.File, path string) bool {
	held, err1 := f.Stat()
	now, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(held, now)
}

// release unlocks without removing the file.
func (n *nodeLock) release() {
	if n != nil && n.f != nil {
		n.f.Close() // closing drops the flock
		n.f = nil
	}
}

// remove deletes the lock file while still holding the lock, so that no
// other process can mistake the id for a live one in between, then releases.
func (n *nodeLock) remove() {
	os.Remove(n.path)
	n.release()
}

// deadNodes returns, locked, the node locks in workDir that no live process
// holds, except self's.
func deadNodes(workDir, self string) []*nodeLock {
	entries, err := os.ReadDir(nodesDir(workDir))
	if err != nil {
		return nil
	}
	var dead []*nodeLock
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".lock")
		if !ok || id == self || !nodeIDPattern.MatchString(id) {
			continue
		}
		path := filepath.Join(nodesDir(workDir), e.Name())
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil || !lockedFileIsAt(f, path) {
			f.Close() // alive, or already reaped and replaced
			continue
		}
		dead = append(dead, &nodeLock{id: id, f: f, path: path})
	}
	return dead
}
