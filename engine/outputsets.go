package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// Output sets. An output whose alias starts with SetOutputPrefix
// ("out_playlist_") is an HLS playlist (its file name ends in .m3u8), or an
// image sequence (see imagesets.go), and
// stands for a set of files: the playlist ffmpeg wrote and every file it
// names (segments, an fMP4 init section, nested playlists). The engine
// stores them all under one key prefix, files/<file id>/<attempt>/, with
// their names unchanged, and the output's storage_url serves the playlist
// through a link that opens that prefix (storage.DirLinker), so a player
// fetches the segments by the relative names in the playlist, with no API
// key. One file record stands for the set; its size_mbytes is the whole
// set's, and its media facts are ffprobe's reading of the playlist.
//
// The playlist is hostile output: the command is a stranger's, and with
// -hls_base_url refused it should hold only plain names, but it is read with
// the media package's guard anyway (media.PlaylistFiles), and each file it
// names is opened like any output (no symlinks, a regular file with one
// link, within MaxOutputBytes) and must sit directly in the out dir. The
// bytes stored for the playlist are the bytes that were checked.

// SetOutputPrefix starts the alias of an output that is a set of files.
const SetOutputPrefix = template.SetAliasPrefix

// MaxSetFiles bounds the files one set output may hold (playlists included).
const MaxSetFiles = 10000

// setUploadWorkers is how many files of a set upload at once.
const setUploadWorkers = 4

// isSetOutput reports whether an output alias names a set of files.
func isSetOutput(alias string) bool { return strings.HasPrefix(alias, SetOutputPrefix) }

// isSetFile reports whether a stored file is a set (a command's output
// under a set alias).
func isSetFile(f *store.File) bool { return f.CommandID != "" && isSetOutput(f.Alias) }

// checkSetOutputs refuses set outputs whose file name is not a playlist.
// field is the request field holding the outputs.
func checkSetOutputs(outputs map[string]string, field string) template.Errors {
	var problems template.Errors
	for _, alias := range sortedKeys(outputs) {
		if strings.Contains(outputs[alias], "%") {
			continue // an image sequence; template.Parse checks the pattern
		}
		if isSetOutput(alias) && !strings.HasSuffix(strings.ToLower(outputs[alias]), ".m3u8") {
			problems = append(problems, template.NewFieldError(
				fmt.Sprintf("%s is a playlist output (its alias starts with %s): its file name must end in .m3u8, such as \"stream.m3u8\", or be an image sequence, such as \"frame_%%03d.jpg\"",
					alias, SetOutputPrefix), "body", field, alias))
		}
	}
	return problems
}

// storeSetOutput stores a playlist and every file it names, and returns
// the playlist's record. On failure it deletes what it stored.
func (e *Engine) storeSetOutput(ctx context.Context, c *claim, out store.OutputRef) (*store.File, error) {
	cmd := c.cmd
	dir := filepath.Join(c.dir, outDir)
	prefix := path.Dir(blobKey(out.FileID, cmd.Attempts, out.FileName)) + "/"
	if seq, ok := template.ParseImageSequence(out.FileName); ok {
		return e.storeImageSequence(ctx, c, out, seq, dir, prefix)
	}

	playlist, err := e.readPlaylist(dir, out.FileName, out)
	if err != nil {
		return nil, err
	}
	// Every file the playlist names, and those nested playlists name.
	names := []string{}
	seen := map[string]bool{out.FileName: true}
	queue := [][]byte{playlist}
	for len(queue) > 0 {
		data := queue[0]
		queue = queue[1:]
		refs, err := media.PlaylistFiles(data)
		if err != nil {
			return nil, failf(ErrorOutputMissing, "output %s (%s) is not a usable playlist: %s", out.Alias, out.FileName,
				strings.TrimPrefix(err.Error(), "media: "))
		}
		for _, ref := range refs {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			if strings.Contains(ref, "/") {
				return nil, failf(ErrorOutputMissing, "playlist %s names %q, which is not in its own directory", out.FileName, ref)
			}
			if len(seen) > MaxSetFiles {
				return nil, failf(ErrorOutputTooLarge, "playlist %s names more than %d files", out.FileName, MaxSetFiles)
			}
			names = append(names, ref)
			if strings.HasSuffix(strings.ToLower(ref), ".m3u8") {
				nested, err := e.readPlaylist(dir, ref, out)
				if err != nil {
					return nil, err
				}
				queue = append(queue, nested)
			}
		}
	}
	if len(names) == 0 {
		return nil, failf(ErrorOutputMissing, "playlist %s (%s) names no segments", out.Alias, out.FileName)
	}

	// The segments first, the playlist last: a playlist in storage always
	// has its segments beside it.
	stored, total, firstErr := e.storeSetMembers(ctx, c, dir, prefix, names, out, func(name string) string {
		return fmt.Sprintf("playlist %s names %q", out.FileName, name)
	})
	total += int64(len(playlist))
	if firstErr == nil && total > e.cfg.MaxOutputBytes {
		firstErr = failf(ErrorOutputTooLarge, "output %s and its segments are %d bytes, over the %d-byte limit", out.Alias, total, e.cfg.MaxOutputBytes)
	}
	key := prefix + out.FileName
	var info media.Info
	var probeErr error
	if firstErr == nil {
		info, probeErr, firstErr = e.probeWhile(ctx, filepath.Join(dir, out.FileName), func() error {
			return e.uploadBytes(ctx, c, playlist, key, media.MimeType(out.FileName, ""))
		})
	}
	if firstErr != nil {
		e.deleteSetKeys(stored, c)
		return nil, firstErr
	}
	if probeErr != nil {
		info = media.Info{FileType: "other"}
	}
	return e.storedOutput(cmd, out, key, total, info), nil
}

// readPlaylist reads a playlist ffmpeg wrote in dir, as the uploader opens
// any output (see openOutput), up to media.MaxPlaylistBytes.
func (e *Engine) readPlaylist(dir, name string, out store.OutputRef) ([]byte, error) {
	f, fi, err := openOutput(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failf(ErrorOutputMissing, "ffmpeg finished without writing %s of output %s; check that the command writes {{%s}} as HLS (-f hls)",
			name, out.Alias, out.Alias)
	}
	if errors.Is(err, errNotRegular) {
		return nil, failf(ErrorOutputMissing, "%s of output %s is not a regular file", name, out.Alias)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > media.MaxPlaylistBytes {
		return nil, failf(ErrorOutputTooLarge, "playlist %s of output %s is larger than %d bytes", name, out.Alias, media.MaxPlaylistBytes)
	}
	return io.ReadAll(io.LimitReader(f, media.MaxPlaylistBytes))
}

// storeSetMembers uploads the files of a set (not its playlist), a few at
// a time, each under prefix+name, and returns the keys it stored and their
// total size. On failure it returns the first error and the keys stored so
// far, for the caller to delete. what(name) begins the message about a
// file that is missing or not a regular file.
func (e *Engine) storeSetMembers(ctx context.Context, c *claim, dir, prefix string, names []string, out store.OutputRef, what func(name string) string) (stored []string, total int64, firstErr error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		slots = make(chan struct{}, setUploadWorkers)
	)
	for _, name := range names {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			size, err := e.storeSetMember(ctx, c, dir, name, prefix+name, out, what)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			stored = append(stored, prefix+name)
			total += size
		}()
	}
	wg.Wait()
	return stored, total, firstErr
}

// deleteSetKeys deletes the files stored for a set output that failed.
func (e *Engine) deleteSetKeys(keys []string, c *claim) {
	cleanup, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range keys {
		if err := e.cfg.Storage.Delete(cleanup, k); err != nil {
			c.log.Warn("could not delete a segment of a failed output", "key", k, "err", err)
		}
	}
}

// storeSetMember uploads one file of a set and returns its size.
func (e *Engine) storeSetMember(ctx context.Context, c *claim, dir, name, key string, out store.OutputRef, what func(name string) string) (int64, error) {
	f, fi, err := openOutput(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, failf(ErrorOutputMissing, "%s, which ffmpeg did not write", what(name))
	}
	if errors.Is(err, errNotRegular) {
		return 0, failf(ErrorOutputMissing, "%s, which is not a regular file", what(name))
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if fi.Size() > e.cfg.MaxOutputBytes {
		return 0, failf(ErrorOutputTooLarge, "segment %s of output %s is %d bytes, over the %d-byte limit", name, out.Alias, fi.Size(), e.cfg.MaxOutputBytes)
	}
	if err := e.upload(ctx, c, f, key, fi.Size(), media.MimeType(name, "")); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// uploadBytes stores data under key, with upload's retries.
func (e *Engine) uploadBytes(ctx context.Context, c *claim, data []byte, key, contentType string) error {
	var err error
	for attempt := 1; attempt <= uploadAttempts; attempt++ {
		err = e.cfg.Storage.Put(ctx, key, strings.NewReader(string(data)), contentType)
		if err == nil || ctx.Err() != nil {
			return err
		}
		c.log.Warn("upload failed; retrying", "key", key, "attempt", attempt, "err", err)
		sleepCtx(ctx, time.Duration(attempt)*time.Second)
	}
	c.log.Error("storing an output failed", "key", key, "err", err)
	return failf(ErrorStorageFailed, "storing the output in the engine's storage failed %d times; try again later", uploadAttempts)
}

// deleteFileBytes deletes a stored file's bytes: for a set, every file its
// stored playlists name (read back from storage, with the same guard, and
// followed as deep as storing followed them), then the playlist.
func (e *Engine) deleteFileBytes(ctx context.Context, f *store.File) error {
	if isSetFile(f) {
		if err := e.deleteSetMembers(ctx, f.BlobKey); err != nil {
			return err
		}
	}
	return e.cfg.Storage.Delete(ctx, f.BlobKey)
}

// deleteSetMembers deletes every file the set's playlist names, directly or
// through nested playlists, but not the playlist itself. The segments go
// first and the nested playlists after them, deepest first, so that a
// failure part-way leaves every playlist that names a remaining file in
// place for the retried delete to find it by.
func (e *Engine) deleteSetMembers(ctx context.Context, playlistKey string) error {
	prefix := path.Dir(playlistKey) + "/"
	seen := map[string]bool{playlistKey: true}
	var segments, playlists []string
	queue := []string{playlistKey}
	for len(queue) > 0 {
		key := queue[0]
		queue = queue[1:]
		refs, err := e.storedPlaylistFiles(ctx, key)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			member := prefix + ref
			if strings.Contains(ref, "/") || seen[member] || len(seen) > MaxSetFiles {
				continue
			}
			seen[member] = true
			if strings.HasSuffix(strings.ToLower(ref), ".m3u8") {
				playlists = append(playlists, member)
				queue = append(queue, member)
			} else {
				segments = append(segments, member)
			}
		}
	}
	slices.Reverse(playlists)
	for _, key := range append(segments, playlists...) {
		if err := e.cfg.Storage.Delete(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// storedPlaylistFiles lists the files a stored playlist names; nothing if
// it is gone (deleted already) or not a playlist the guard accepts (the
// engine stores playlists only after that check passed).
func (e *Engine) storedPlaylistFiles(ctx context.Context, key string) ([]string, error) {
	obj, err := e.cfg.Storage.Open(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(obj, media.MaxPlaylistBytes+1))
	obj.Close()
	if err != nil {
		return nil, err
	}
	refs, err := media.PlaylistFiles(data)
	if err != nil {
		return nil, nil
	}
	return refs, nil
}

// fileURL is the storage_url of a stored file: for a set, a link that also
// opens the files beside the playlist, when the storage can make one.
func (e *Engine) fileURL(ctx context.Context, f *store.File) (string, error) {
	if isSetFile(f) {
		if dl, ok := e.cfg.Storage.(storage.DirLinker); ok {
			u, ok, err := dl.DirURL(ctx, f.BlobKey, e.cfg.StorageURLTTL)
			if err != nil || ok {
				return u, err
			}
		}
	}
	return e.cfg.Storage.URL(ctx, f.BlobKey, e.cfg.StorageURLTTL)
}
