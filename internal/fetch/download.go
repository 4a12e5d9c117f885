package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrTooLarge is wrapped by Download when the response body is, or announces
// that it is, larger than the caller's limit.
var ErrTooLarge = errors.New("response body is larger than the size limit")

// StatusError is returned by Download when the server answers with a status
// outside 2xx, including 3xx from a client that does not follow redirects.
type StatusError struct {
	StatusCode int    // e.g. 404
	Status     string // as sent, e.g. "404 Not Found"
}

func (e *StatusError) Error() string {
	status := e.Status
	if status == "" {
		status = fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return "server answered " + status
}

// Download GETs rawURL with client (use one from NewClient; nothing here
// re-checks addresses) and streams the body into w, writing at most
// maxBytes, and returns the number of bytes written.
//
// A Content-Length above maxBytes fails with ErrTooLarge before any byte is
// read. A body without a trustworthy length that runs past maxBytes fails
// with ErrTooLarge as soon as byte maxBytes+1 arrives; w then holds maxBytes
// bytes, which the caller should discard. An answer outside 2xx fails with
// *StatusError without reading the body. Download asks for the identity
// encoding and never decompresses: what w receives is what the server sent.
func Download(ctx context.Context, client *http.Client, rawURL string, w io.Writer, maxBytes int64) (int64, error) {
	if client == nil {
		return 0, errors.New("fetch: Download needs a client from NewClient")
	}
	if maxBytes <= 0 {
		// A zero limit is almost surely unset configuration; failing loudly
		// beats failing every download with ErrTooLarge.
		return 0, fmt.Errorf("fetch: maxBytes must be positive, got %d", maxBytes)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, err
	}
	// Media should arrive as stored; ask servers not to compress it.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// Closing an unread body drops the connection instead of draining it,
	// which is what we want after refusing a huge or failed answer.
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if resp.ContentLength > maxBytes {
		return 0, fmt.Errorf("%w: server announced %d bytes, the limit is %d", ErrTooLarge, resp.ContentLength, maxBytes)
	}
	written, err := io.Copy(w, io.LimitReader(resp.Body, maxBytes))
	if err != nil {
		return written, err
	}
	if written == maxBytes {
		// The limit is reached. One more byte means the body is too large;
		// read it into a scratch byte so w never gets more than maxBytes.
		var probe [1]byte
		n, err := io.ReadFull(resp.Body, probe[:])
		if n > 0 {
			return written, fmt.Errorf("%w: body runs past %d bytes", ErrTooLarge, maxBytes)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return written, err
		}
	}
	return written, nil
}
