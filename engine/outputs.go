package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

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
	// Lstat, not Stat: ffmpeg (running the user's command) could leave a
	// symlink named like an output pointing at a file outside its work
	// dir, for the unsandboxed uploader to read.
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failf(ErrorOutputMissing, "ffmpeg finished without writing output %s (%s); check that the command writes {{%s}}",
			out.Alias, out.FileName, out.Alias)
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, failf(ErrorOutputMissing, "output %s (%s) is not a regular file", out.Alias, out.FileName)
	}
	if fi.Size() > e.cfg.MaxOutputBytes {
		return nil, failf(ErrorOutputTooLarge, "output %s is %d bytes, over the %d-byte limit", out.Alias, fi.Size(), e.cfg.MaxOutputBytes)
	}

	// Probing and uploading both only read the file: do them at once.
	var (
		info     media.Info
		probeErr error
		probed   = make(chan struct{})
	)
	go func() {
		defer close(probed)
		info, probeErr = e.prober.Probe(ctx, path)
	}()
	key := blobKey(out.FileID, cmd.Attempts, out.FileName)
	upErr := e.upload(ctx, c, path, key, fi.Size(), media.MimeType(out.FileName, ""))
	<-probed
	if upErr != nil {
		return nil, upErr
	}
	if probeErr != nil {
		if !errors.Is(probeErr, media.ErrNotMedia) {
			return nil, probeErr
		}
		// A text or data output (e.g. a metadata=print file) is fine: it
		// is stored as "other".
		info = media.Info{FileType: "other"}
	}
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
		SizeBytes: fi.Size(),
		Info:      info,
		CreatedAt: now,
		UpdatedAt: now,
	}, nil
}

// blobKey is where a file's bytes live: under the file's id, then the
// attempt that made them (so an attempt that lost its lease and cleans up
// can only ever delete its own objects), then the file's name (so a
// downloaded link saves under that name).
func blobKey(fileID string, attempt int, name string) string {
	return "files/" + fileID + "/" + strconv.Itoa(attempt) + "/" + name
}

func (e *Engine) upload(ctx context.Context, c *claim, path, key string, size int64, contentType string) error {
	var err error
	for attempt := 1; attempt <= uploadAttempts; attempt++ {
		err = e.uploadOnce(ctx, path, key, size, contentType)
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

func (e *Engine) uploadOnce(ctx context.Context, path, key string, size int64, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, uploadTimeout(size))
	defer cancel()
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open output: %w", err)
	}
	defer f.Close()
	return e.cfg.Storage.Put(ctx, key, f, contentType)
}
