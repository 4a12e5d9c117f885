package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/openrender/openrender/internal/fetch"
)

// Input downloads retry transient failures (connection errors, 5xx, 429)
// this many times in all, backing off between attempts.
const downloadAttempts = 3

// downloadInputs fetches every input in parallel into dir/in/, and returns
// the path (relative to dir) each alias will have on ffmpeg's command line.
// Inputs that are links into the engine's own storage are read from the
// bucket if they name a file of accountID (see ownlinks.go).
func (e *Engine) downloadInputs(ctx context.Context, dir, accountID string, inputs map[string]string) (map[string]string, error) {
	paths := make(map[string]string, len(inputs)+4)
	if len(inputs) == 0 {
		return paths, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, alias := range sortedKeys(inputs) {
		rel := inDir + "/" + alias + inputExtension(inputs[alias])
		paths[alias] = rel
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.downloadInput(ctx, accountID, "input "+alias, inputs[alias], filepath.Join(dir, rel)); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel() // one failed input fails the command: stop the others
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return paths, firstErr
}

// downloadInput fetches one URL into dst, for accountID, retrying
// transient failures; a failure is a *runError whose message names the
// input as what ("input in_video", "file_url").
func (e *Engine) downloadInput(ctx context.Context, accountID, what, rawURL, dst string) error {
	var err error
	for attempt := 1; attempt <= downloadAttempts; attempt++ {
		err = e.downloadOnce(ctx, accountID, rawURL, dst)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, time.Duration(attempt)*500*time.Millisecond)
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	shown := redactURL(rawURL)
	var status *fetch.StatusError
	switch {
	case errors.Is(err, fetch.ErrTooLarge):
		return failf(ErrorInputTooLarge, "%s (%s) is larger than the %d-byte limit", what, shown, e.cfg.MaxInputBytes)
	case errors.Is(err, fetch.ErrBlocked):
		return failf(ErrorUnreachableInputFile,
			"%s (%s) resolves to a private or reserved network address, which this server does not fetch", what, shown)
	case errors.As(err, &status):
		return failf(ErrorUnreachableInputFile, "%s (%s) could not be downloaded: the server answered %s", what, shown, status.Status)
	case errors.Is(err, errDiskWrite):
		e.log.Error("writing an input to the work dir failed", "input", what, "err", err)
		return failf(ErrorInternal, "the server could not store %s on its disk (it may be full); try again later", what)
	case errors.Is(err, errNotOwnFile):
		return failf(ErrorUnreachableInputFile,
			"%s (%s) is a link to this server's storage, but no stored file of your account is there (it may have been deleted, or belong to another account)", what, shown)
	case errors.Is(err, errOwnStorage):
		e.log.Error("reading an input from the engine's storage failed", "input", what, "err", err)
		return failf(ErrorUnreachableInputFile, "%s (%s) could not be read from this server's storage; try again later", what, shown)
	default:
		return failf(ErrorUnreachableInputFile, "%s (%s) could not be downloaded: %s", what, shown, describeNetError(err))
	}
}

var errDiskWrite = errors.New("writing an input to the work dir failed")

func (e *Engine) downloadOnce(ctx context.Context, accountID, rawURL, dst string) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.DownloadTimeout)
	defer cancel()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", errDiskWrite, err)
	}
	if key, own := e.ownLink(rawURL); own {
		err = e.copyOwnFile(ctx, accountID, key, diskWriter{f})
	} else {
		_, err = fetch.Download(ctx, e.client, rawURL, diskWriter{f}, e.cfg.MaxInputBytes)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %v", errDiskWrite, cerr)
	}
	return err
}

// diskWriter marks its write errors as the engine's own, so that a full
// disk is not reported as an unreachable input.
type diskWriter struct{ f *os.File }

func (w diskWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %v", errDiskWrite, err)
	}
	return n, err
}

func retryable(err error) bool {
	var status *fetch.StatusError
	if errors.As(err, &status) {
		return status.StatusCode >= 500 || status.StatusCode == 429
	}
	return !errors.Is(err, fetch.ErrTooLarge) && !errors.Is(err, fetch.ErrBlocked) && !errors.Is(err, errDiskWrite) &&
		!errors.Is(err, errNotOwnFile)
}

// describeNetError turns a transport error into words without internals.
func describeNetError(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the download timed out"
	case errors.As(err, &dns):
		return "the host name could not be resolved"
	case errors.As(err, &op) && op.Op == "dial":
		return "the connection was refused or could not be made"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

var safeExtension = regexp.MustCompile(`^\.[A-Za-z0-9]{1,10}$`)

// inputExtension keeps the URL's file extension (ffmpeg uses it to pick
// demuxers for some formats, e.g. .srt), when it is plainly an extension.
func inputExtension(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	ext := path.Ext(u.Path)
	if safeExtension.MatchString(ext) {
		return ext
	}
	return ""
}

// redactURL shows a URL without its query (which may carry a presigned
// credential) or userinfo.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "the URL"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment = ""
	return u.String()
}
