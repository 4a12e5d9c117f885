package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/store"
)

// Uploads retry this many times in all before the command fails with
// STORAGE_FAILED.
const uploadAttempts = 3

// storeOutputs checks, probes and uploads every declared output, all in
// parallel, and returns their file records. If any fails, the ones already
// uploaded are deleted, so a failed command leaves no orphan objects.
func (e *Engine) storeOutputs(ctx context.Context, c *claim) ([]*store.File, error) {
	cmd := c.cmd
	files := make([]*store.File, len(cmd.Outputs))
	errs := make([]error, len(cmd.Outputs))
	var wg sync.WaitGroup
	for i, out := range cmd.Outputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if isSetOutput(out.Alias) {
				files[i], errs[i] = e.storeSetOutput(ctx, c, out)
				return
			}
			files[i], errs[i] = e.storeOutput(ctx, c, out, filepath.Join(c.dir, outDir, out.FileName))
		}()
	}
	wg.Wait()
	for _, err := range errs { // the first failure, by output order
		if err == nil {
			continue
		}
		var stored []*store.File
		for _, f := range files {
			if f != nil {
				stored = append(stored, f)
			}
		}
		cleanup, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.deleteBlobs(cleanup, stored, c.log)
		return nil, err
	}
	return files, nil
}

func (e *Engine) storeOutput(ctx context.Context, c *claim, out store.OutputRef, path string) (*store.File, error) {
	cmd := c.cmd
	// The uploader runs outside the sandbox, so it must not be tricked into
	// reading anything but the regular file ffmpeg wrote: see openOutput.
	f, fi, err := openOutput(filepath.Dir(path), filepath.Base(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failf(ErrorOutputMissing, "ffmpeg finished without writing output %s (%s); check that the command writes {{%s}}",
			out.Alias, out.FileName, out.Alias)
	}
	if errors.Is(err, errNotRegular) {
		return nil, failf(ErrorOutputMissing, "output %s (%s) is not a regular file", out.Alias, out.FileName)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > e.cfg.MaxOutputBytes {
		return nil, failf(ErrorOutputTooLarge, "output %s is %d bytes, over the %d-byte limit", out.Alias, fi.Size(), e.cfg.MaxOutputBytes)
	}

	key := blobKey(out.FileID, cmd.Attempts, out.FileName)
	info, probeErr, upErr := e.probeWhile(ctx, path, func() error {
		return e.upload(ctx, c, f, key, fi.Size(), media.MimeType(out.FileName, ""))
	})
	if upErr != nil {
		return nil, upErr
	}
	// The probe opened the file by name. If the name no longer leads to
	// the file that was uploaded, what the probe saw is not what was stored.
	if now, err := os.Lstat(path); err != nil || !os.SameFile(fi, now) {
		return nil, failf(ErrorOutputMissing, "output %s (%s) was replaced while it was being stored", out.Alias, out.FileName)
	}
	if probeErr != nil {
		if !errors.Is(probeErr, media.ErrNotMedia) {
			return nil, probeErr
		}
		// A text or data output (e.g. a metadata=print file) is fine: it
		// is stored as "other".
		info = media.Info{FileType: "other"}
	}
	return e.storedOutput(cmd, out, key, fi.Size(), info), nil
}

// storedOutput is the record of an output whose bytes are stored under key.
func (e *Engine) storedOutput(cmd *store.Command, out store.OutputRef, key string, size int64, info media.Info) *store.File {
	if info.MimeType == "" {
		info.MimeType = media.MimeType(out.FileName, info.FileType)
	}
	now := e.cfg.Now()
	return &store.File{
		ID:        out.FileID,
		AccountID: cmd.AccountID,
		CommandID: cmd.ID,
		Alias:     out.Alias,
		FileName:  out.FileName,
		BlobKey:   key,
		Status:    store.FileStored,
		SizeBytes: size,
		Info:      info,
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// blobKey is where a file's bytes live: under the file's id, then the
// attempt that made them (so an attempt that lost its lease and cleans up
// can only ever delete its own objects), then the file's name (so a
// downloaded link saves under that name).
func blobKey(fileID string, attempt int, name string) string {
	return "files/" + fileID + "/" + strconv.Itoa(attempt) + "/" + name
}

func (e *Engine) upload(ctx context.Context, c *claim, f *os.File, key string, size int64, contentType string) error {
	var err error
	for attempt := 1; attempt <= uploadAttempts; attempt++ {
		err = e.uploadOnce(ctx, f, key, size, contentType)
		if err == nil || ctx.Err() != nil {
			return err
		}
		c.log.Warn("upload failed; retrying", "key", key, "attempt", attempt, "err", err)
		sleepCtx(ctx, time.Duration(attempt)*time.Second)
	}
	c.log.Error("storing an output failed", "key", key, "err", err)
	return failf(ErrorStorageFailed, "storing the output in the engine's storage failed %d times; try again later", uploadAttempts)
}

// uploadTimeout bounds one upload attempt: a storage backend that stops
// answering must not hold a command in PROCESSING (with a live lease) forever.
func uploadTimeout(size int64) time.Duration {
	const floor, bytesPerSecond = 2 * time.Minute, 1 << 20
	return floor + time.Duration(size/bytesPerSecond)*time.Second
}

// uploadOnce stores exactly the first size bytes of f: a file that grows
// after its size was checked can't push more than that into storage.
func (e *Engine) uploadOnce(ctx context.Context, f *os.File, key string, size int64, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, uploadTimeout(size))
	defer cancel()
	return e.cfg.Storage.Put(ctx, key, io.NewSectionReader(f, 0, size), contentType)
}

// errNotRegular: an output path names a symlink, FIFO, device, socket or
// directory instead of a regular file.
var errNotRegular = errors.New("not a regular file")

// openOutput opens name inside dir for the uploader, which runs outside the
// sandbox. name must be a single path element; neither dir nor name may be
// a symlink (O_NOFOLLOW on both, so nothing can point the uploader at a
// file outside the work dir); a FIFO can't block the open (O_NONBLOCK);
// and what was opened must be a regular file (checked on the open file,
// so it can't change between the check and the read).
func openOutput(dir, name string) (*os.File, os.FileInfo, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return nil, nil, fmt.Errorf("output name %q: %w", name, errNotRegular)
	}
	dirFD, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dirFD)
	fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, nil, errNotRegular // a symlink
	case err != nil:
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, name))
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, errNotRegular
	}
	// A file ffmpeg wrote has one name. A hard link would give a file from
	// elsewhere a name in the out dir (the sandbox denies making one; this
	// holds without it).
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		f.Close()
		return nil, nil, fmt.Errorf("%w: it has %d hard links", errNotRegular, st.Nlink)
	}
	return f, fi, nil
}

// probeWhile reads the media facts of path while upload runs: both only
// read the file, so a stored file costs the longer of the two, not their sum.
func (e *Engine) probeWhile(ctx context.Context, path string, upload func() error) (info media.Info, probeErr, upErr error) {
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		info, probeErr = e.prober.Probe(ctx, path)
	}()
	upErr = upload()
	<-probed
	return info, probeErr, upErr
}
