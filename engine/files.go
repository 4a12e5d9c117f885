package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// The files API: files a client stores ahead of time, by URL (StoreFile,
// fetched in the background) or by upload (UploadFile), to use later as
// command inputs through their storage_url. Their records live in the
// store next to command outputs; their bytes in the engine's bucket.

// ErrUploadTooLarge is returned by UploadFile when the upload runs past
// Config.MaxUploadBytes; nothing is stored.
var ErrUploadTooLarge = errors.New("engine: upload is larger than the size limit")

// fileBlobKey is where a stored or uploaded file's bytes live: under its
// id (so ownFile can find the record), then its name (so a downloaded
// link saves under that name).
func fileBlobKey(fileID, name string) string { return "files/" + fileID + "/" + name }

var unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeFileName makes a client's file name safe as the last segment of a
// blob key and a download name: letters, digits, '.', '_' and '-', no
// leading '.' or '-', at most 100 bytes; fallback if nothing is left.
func safeFileName(name, fallback string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = unsafeNameChars.ReplaceAllString(name, "_")
	name = strings.TrimLeft(name, ".-_")
	if len(name) > 100 {
		ext := path.Ext(name)
		if len(ext) > 11 {
			ext = ""
		}
		name = name[:100-len(ext)] + ext
	}
	if name == "" || name == "." {
		return fallback
	}
	return name
}

// GetFile returns one of the account's files. Another account's file is
// ErrNotFound, exactly like a missing one.
func (e *Engine) GetFile(ctx context.Context, accountID, id string) (*store.File, error) {
	f, err := e.cfg.Store.GetFile(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.AccountID != accountID) {
		return nil, ErrNotFound
	}
	return f, err
}

// ListFiles returns a page of the account's files, newest first: stored,
// uploaded and command outputs, deleted ones included.
func (e *Engine) ListFiles(ctx context.Context, accountID string, limit, offset int) ([]*store.File, error) {
	return e.cfg.Store.ListFiles(ctx, store.FileQuery{AccountID: accountID, Limit: limit, Offset: offset})
}

// FileObject renders a file as the contract's file object, with a fresh
// storage_url.
func (e *Engine) FileObject(ctx context.Context, f *store.File) (api.File, error) {
	obj := api.File{
		FileID:     f.ID,
		Status:     string(f.Status),
		IsDeleted:  f.IsDeleted,
		FileName:   f.FileName,
		SizeMBytes: api.SizeMBytes(f.SizeBytes),
		Info:       f.Info,
		CreatedAt:  api.Time(f.CreatedAt),
	}
	if f.OriginalURL != "" {
		obj.OriginalFileURL = &f.OriginalURL
	}
	if f.Status == store.FileFailed {
		obj.ErrorStatus, obj.ErrorMessage = &f.ErrorStatus, &f.ErrorMessage
	}
	if f.Status == store.FileStored && !f.IsDeleted {
		u, err := e.fileURL(ctx, f)
		if err != nil {
			return api.File{}, err
		}
		obj.StorageURL = &u
	}
	return obj, nil
}

// StoreFile records a PROCESSING file of the account and fetches fileURL
// into it in the background, under the same rules as command inputs
// (address checks, MaxInputBytes, DownloadTimeout, retries; a storage_url
// of the account's own is read from the bucket), then probes it. A bad URL
// is a *ValidationError on file_url. The fetch runs in this process: if it
// dies, the file ends FAILED at the next file sweep (see SweepFiles).
func (e *Engine) StoreFile(ctx context.Context, accountID, fileURL string) (*store.File, error) {
	if err := e.checkInputURL(fileURL); err != nil {
		return nil, &ValidationError{Problems: template.Errors{template.NewFieldError(err.Error(), "body", "file_url")}}
	}
	name := "file"
	if u, err := url.Parse(fileURL); err == nil {
		name = safeFileName(u.Path, "file")
	}
	f := e.newFileRecord(newID(), accountID, name, fileURL)
	// Counted before it is recorded, under mu, so that Stop either waits
	// for this fetch or refuses it before it starts.
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil, ErrStopped
	}
	e.jobs.Add(1)
	e.mu.Unlock()
	if err := e.cfg.Store.CreateFile(ctx, f); err != nil {
		e.jobs.Done()
		return nil, fmt.Errorf("engine: record file: %w", err)
	}
	go func() {
		defer e.jobs.Done()
		e.fetchFile(e.jobsCtx, f)
	}()
	return f, nil
}

// fetchFile is StoreFile's background half.
func (e *Engine) fetchFile(ctx context.Context, f *store.File) {
	log := e.log.With("file_id", f.ID, "account_id", f.AccountID)
	dir, err := e.fileWorkDir(f.ID)
	if err != nil {
		e.finishFile(f, e.fileFailure(log, err), log)
		return
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, f.FileName)
	if err := e.downloadInput(ctx, f.AccountID, "file_url", f.OriginalURL, local); err != nil {
		e.finishFile(f, e.fileFailure(log, err), log)
		return
	}
	e.finishFile(f, e.storeFileBytes(ctx, f, local, log), log)
}

// finishFile records a fetched file's result. If the file was deleted
// while it was fetched, the bytes just stored go too.
func (e *Engine) finishFile(f *store.File, r store.FileResult, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.Now = e.cfg.Now()
	err := e.cfg.Store.FinishFile(ctx, f.ID, r)
	if errors.Is(err, store.ErrConflict) && r.Status == store.FileStored {
		log.Info("file deleted while it was fetched; deleting its bytes")
		e.deleteBytes(f.BlobKey, log)
		return
	}
	if err != nil && !errors.Is(err, store.ErrConflict) {
		log.Warn("could not record a fetched file's result; the file sweep will fail it", "err", err)
		return
	}
	log.Info("file processed", "status", r.Status, "error_status", r.ErrorStatus)
}

// newFileRecord is a new PROCESSING file of the account, recorded before
// its bytes are stored (originalURL is "" for an upload).
func (e *Engine) newFileRecord(id, accountID, name, originalURL string) *store.File {
	now := e.cfg.Now()
	return &store.File{
		ID:          id,
		AccountID:   accountID,
		FileName:    name,
		BlobKey:     fileBlobKey(id, name),
		Status:      store.FileProcessing,
		OriginalURL: originalURL,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// fileFailure turns a fetch or store error into a FAILED result.
func (e *Engine) fileFailure(log *slog.Logger, err error) store.FileResult {
	var re *runError
	if errors.As(err, &re) {
		return store.FileResult{Status: store.FileFailed, ErrorStatus: re.status, ErrorMessage: scrubPaths(re.message, e.cfg.WorkDir)}
	}
	if errors.Is(err, context.Canceled) {
		return store.FileResult{Status: store.FileFailed, ErrorStatus: ErrorCancelled,
			ErrorMessage: "the server shut down before the file was stored; store it again"}
	}
	log.Warn("internal error while storing a file", "err", err)
	return store.FileResult{Status: store.FileFailed, ErrorStatus: ErrorInternal,
		ErrorMessage: "the engine hit an internal error while storing the file; it was logged"}
}

// fileWorkDir makes a private scratch dir for one file under this
// process's runs dir, which Start and dead-node reaping clean up.
func (e *Engine) fileWorkDir(fileID string) (string, error) {
	dir := filepath.Join(e.runsDir(), "file-"+fileID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create file work dir: %w", err)
	}
	return dir, nil
}

// storeFileBytes probes the local copy of a file and puts it in the
// bucket, both at once, and returns the file's result: STORED with its
// facts, or FAILED (INVALID_INPUT_FILE for bytes that are not media, whose
// copy in the bucket is then deleted).
func (e *Engine) storeFileBytes(ctx context.Context, f *store.File, local string, log *slog.Logger) store.FileResult {
	fi, err := os.Stat(local)
	if err != nil {
		return e.fileFailure(log, err)
	}
	info, probeErr, upErr := e.probeWhile(ctx, local, func() error {
		return e.putFile(ctx, local, f.BlobKey, fi.Size(), media.MimeType(f.FileName, ""))
	})
	if probeErr == nil && upErr == nil {
		if info.MimeType == "" {
			info.MimeType = media.MimeType(f.FileName, info.FileType)
		}
		return store.FileResult{Status: store.FileStored, SizeBytes: fi.Size(), Info: info}
	}
	if upErr == nil {
		cleanup, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.cfg.Storage.Delete(cleanup, f.BlobKey); err != nil {
			log.Warn("could not delete the bytes of a file that failed", "key", f.BlobKey, "err", err)
		}
	}
	switch {
	case errors.Is(probeErr, media.ErrNotMedia):
		return store.FileResult{Status: store.FileFailed, SizeBytes: fi.Size(), ErrorStatus: ErrorInvalidInputFile,
			ErrorMessage: "the file is not media ffprobe can read: " + probeErr.Error()}
	case probeErr != nil:
		return e.fileFailure(log, probeErr)
	default:
		log.Warn("storing a file failed", "key", f.BlobKey, "err", upErr)
		return store.FileResult{Status: store.FileFailed, ErrorStatus: ErrorStorageFailed,
			ErrorMessage: "storing the file in the engine's storage failed; try again later"}
	}
}

// putFile uploads a local file to key, retrying like command outputs.
// The file is the engine's own scratch file (no ffmpeg wrote it), so a
// plain open is safe here.
func (e *Engine) putFile(ctx context.Context, local, key string, size int64, contentType string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	for attempt := 1; attempt <= uploadAttempts; attempt++ {
		if err = e.uploadOnce(ctx, f, key, size, contentType); err == nil || ctx.Err() != nil {
			return err
		}
		sleepCtx(ctx, time.Duration(attempt)*time.Second)
	}
	return err
}

// UploadFile stores the bytes r yields as a new file of the account named
// after name (made safe), and returns its record once stored: STORED with
// its facts, or FAILED (INVALID_INPUT_FILE if the bytes are not media).
// The bytes stream through a scratch file on disk, never whole in memory.
// Past MaxUploadBytes it returns an error wrapping ErrUploadTooLarge and
// stores nothing.
func (e *Engine) UploadFile(ctx context.Context, accountID, name string, r io.Reader) (*store.File, error) {
	id := newID()
	name = safeFileName(name, "upload")
	dir, err := e.fileWorkDir(id)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, name)
	out, err := os.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(out, io.LimitReader(r, e.cfg.MaxUploadBytes+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if n > e.cfg.MaxUploadBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrUploadTooLarge, e.cfg.MaxUploadBytes)
	}
	f := e.newFileRecord(id, accountID, name, "")
	log := e.log.With("file_id", id, "account_id", accountID)
	// The record comes first, PROCESSING: bytes are never in the bucket
	// without a record that leads to them. If this process dies before
	// the result is recorded, the file sweep fails the record and deletes
	// whatever bytes were stored.
	if err := e.cfg.Store.CreateFile(ctx, f); err != nil {
		return nil, fmt.Errorf("engine: record file: %w", err)
	}
	res := e.storeFileBytes(ctx, f, local, log)
	if ctx.Err() != nil && res.Status == store.FileStored {
		// The client went away: don't keep what it won't learn the id of.
		res = e.fileFailure(log, ctx.Err())
		e.deleteBytes(f.BlobKey, log)
	}
	res.SizeBytes = n
	e.finishFile(f, res, log)
	got, err := e.cfg.Store.GetFile(context.WithoutCancel(ctx), id)
	if err != nil {
		return nil, fmt.Errorf("engine: read back file: %w", err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	log.Info("file uploaded", "status", got.Status, "bytes", n)
	return got, nil
}

// deleteBytes deletes a blob that no record will lead to, retrying a few
// times: a failure here leaves bytes nothing else would delete.
func (e *Engine) deleteBytes(key string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = e.cfg.Storage.Delete(ctx, key); err == nil {
			return
		}
		sleepCtx(ctx, time.Duration(attempt)*time.Second)
	}
	log.Error("could not delete bytes that no record leads to", "key", key, "err", err)
}

// DeleteFile deletes one of the account's files: its bytes leave the
// bucket, its record stays with IsDeleted. A file already deleted, like
// another account's, is ErrNotFound.
func (e *Engine) DeleteFile(ctx context.Context, accountID, id string) (*store.File, error) {
	if _, err := e.GetFile(ctx, accountID, id); err != nil {
		return nil, err
	}
	f, err := e.cfg.Store.DeleteFile(ctx, id, e.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	e.purge(ctx, []*store.File{f})
	return f, nil
}

// DeleteCommandFiles deletes the files of one of the account's commands,
// as DeleteFile does, and returns how many it deleted (files already
// deleted are not counted). Another account's command is ErrNotFound.
func (e *Engine) DeleteCommandFiles(ctx context.Context, accountID, commandID string) (int, error) {
	c, err := e.cfg.Store.GetCommand(ctx, commandID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.AccountID != accountID) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if !c.Status.Final() {
		// Its outputs are not recorded yet: deleting now would delete
		// nothing and leave the outputs it is about to store.
		return 0, ErrCommandRunning
	}
	files, err := e.cfg.Store.DeleteCommandFiles(ctx, commandID, e.cfg.Now())
	if err != nil {
		return 0, err
	}
	e.purge(ctx, files)
	return len(files), nil
}

// purge deletes the bytes of files the store has marked deleted for this
// caller, and records those it deleted. What it could not delete stays in
// UnpurgedFiles for the next file sweep.
func (e *Engine) purge(ctx context.Context, files []*store.File) int {
	var gone []string
	for _, f := range files {
		if err := e.deleteFileBytes(ctx, f); err != nil {
			e.log.Warn("could not delete a deleted file's bytes; the file sweep retries", "file_id", f.ID, "err", err)
			continue
		}
		gone = append(gone, f.ID)
	}
	// A fresh context: the bytes are gone, so record it even if the
	// request that asked was cancelled meanwhile.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.cfg.Store.MarkPurged(rec, gone...); err != nil {
		e.log.Warn("could not record deleted bytes; the file sweep deletes them again, harmlessly", "err", err)
	}
	return len(gone)
}
