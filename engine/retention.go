package engine

import (
	"context"
	"errors"
	"time"

	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/store"
)

// The file sweep runs in every started engine, every FileSweepInterval. It
// is safe with any number of engine processes sharing a store: each file
// is handed to exactly one of them by a conditional write in the store
// (store.Files.DeleteFilesCreatedBefore), which then deletes its bytes; a
// process that dies in between leaves the file in UnpurgedFiles, and
// whoever sweeps next deletes the bytes again, which is harmless.

// sweepPageFiles is how many files one store call hands out.
const sweepPageFiles = 100

// purgeRetryDelay is how long after a file was marked deleted its bytes
// are presumed left behind (its deleter died or the bucket refused), and
// deleted again by the sweep. Shorter would only race, harmlessly, with
// deletes still in progress.
const purgeRetryDelay = time.Minute

// SweepStats says what one SweepFiles call did.
type SweepStats struct {
	// Expired counts files deleted because they were older than Retention.
	Expired int
	// Purged counts bytes of earlier deletes that this sweep finished.
	Purged int
	// FailedStale counts store-file fetches that died with their process.
	FailedStale int
}

// SweepFiles does one file sweep now: deletes files older than Retention
// (when it is set), finishes interrupted deletes, and fails store-file
// fetches that can no longer be running. A started engine calls it every
// FileSweepInterval; it is exported for tests and for programs that run
// no workers but want the sweep.
func (e *Engine) SweepFiles(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	now := e.cfg.Now()
	if e.cfg.Retention > 0 {
		for {
			files, err := e.cfg.Store.DeleteFilesCreatedBefore(ctx, now.Add(-e.cfg.Retention), now, sweepPageFiles)
			if err != nil {
				return st, err
			}
			st.Expired += len(files)
			e.purge(ctx, files)
			if len(files) < sweepPageFiles {
				break
			}
		}
		if st.Expired > 0 {
			e.log.Info("deleted files past retention", "files", st.Expired, "retention", e.cfg.Retention)
		}
	}
	for {
		files, err := e.cfg.Store.UnpurgedFiles(ctx, now.Add(-purgeRetryDelay), sweepPageFiles)
		if err != nil {
			return st, err
		}
		n := e.purge(ctx, files)
		st.Purged += n
		if len(files) < sweepPageFiles || n == 0 {
			break
		}
	}
	failed, err := e.cfg.Store.FailStaleFiles(ctx, now.Add(-e.maxFetchDuration()), store.FileResult{
		Status:       store.FileFailed,
		ErrorStatus:  ErrorInternal,
		ErrorMessage: "the server fetching the file stopped before it was stored; store it again",
		Now:          now,
	})
	st.FailedStale = len(failed)
	// The dead process may have stored bytes before it could record them.
	for _, f := range failed {
		if derr := e.cfg.Storage.Delete(ctx, f.BlobKey); derr != nil && !errors.Is(derr, storage.ErrNotFound) {
			e.log.Warn("could not delete the bytes of a file whose fetch died", "file_id", f.ID, "key", f.BlobKey, "err", derr)
		}
	}
	return st, err
}

// maxFetchDuration is longer than any store-file fetch can run in a live
// process: every download attempt to its timeout, then every upload
// attempt of the largest input to its timeout.
func (e *Engine) maxFetchDuration() time.Duration {
	return downloadAttempts*(e.cfg.DownloadTimeout+2*time.Second) +
		uploadAttempts*(uploadTimeout(e.cfg.MaxInputBytes)+3*time.Second) + 10*time.Minute
}
