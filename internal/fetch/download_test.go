package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDownloadWritesBodyUpToTheLimit(t *testing.T) {
	payload := strings.Repeat("x", 1000)
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: the body is chunked
		}
		io.WriteString(w, payload)
	})
	client := NewClient(Options{AllowPrivate: true})
	for _, path := range []string{"/sized", "/chunked"} {
		var buf bytes.Buffer
		// A body of exactly maxBytes is allowed.
		n, err := Download(context.Background(), client, srv.URL+path, &buf, int64(len(payload)))
		if err != nil || n != int64(len(payload)) || buf.String() != payload {
			t.Errorf("%s: Download = %d, %v; want %d, nil and the payload", path, n, err, len(payload))
		}
		// One byte less is not.
		buf.Reset()
		n, err = Download(context.Background(), client, srv.URL+path, &buf, int64(len(payload)-1))
		if !errors.Is(err, ErrTooLarge) || int64(buf.Len()) > int64(len(payload)-1) || n != int64(buf.Len()) {
			t.Errorf("%s: limit-1: Download = %d, %v, wrote %d; want ErrTooLarge and at most %d bytes", path, n, err, buf.Len(), len(payload)-1)
		}
	}
}

func TestDownloadRejectsLargeContentLengthWithoutReading(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(1<<40, 10)) // 1 TiB
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "first bytes of the body")
		w.(http.Flusher).Flush()
		// Send nothing more: a Download that tried to read the body would
		// hang here. Return when the client drops the connection.
		<-r.Context().Done()
	})
	var buf bytes.Buffer
	start := time.Now()
	n, err := Download(context.Background(), NewClient(Options{AllowPrivate: true}), srv.URL, &buf, 1<<20)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Download error = %v, want ErrTooLarge", err)
	}
	if n != 0 || buf.Len() != 0 {
		t.Errorf("Download wrote %d bytes (returned %d), want 0", buf.Len(), n)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Download took %v", elapsed)
	}
}

func TestDownloadStopsEndlessBodyAtLimit(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("A"), 32<<10)
		for { // endless, no Content-Length; stops when the client hangs up
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	const limit = 100_000
	var buf bytes.Buffer
	n, err := Download(context.Background(), NewClient(Options{AllowPrivate: true}), srv.URL, &buf, limit)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Download error = %v, want ErrTooLarge", err)
	}
	if n != limit || buf.Len() != limit {
		t.Errorf("Download returned %d and wrote %d bytes, want exactly %d", n, buf.Len(), limit)
	}
}

func TestDownloadKeepsGzipBodyAsIs(t *testing.T) {
	var compressed bytes.Buffer
	gz := gzip.NewWriter(&compressed)
	gz.Write(bytes.Repeat([]byte("zeros "), 100_000)) // 600 kB, compresses to ~1 kB
	gz.Close()
	var acceptEncoding string
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		acceptEncoding = r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Encoding", "gzip") // sent even though not asked for
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(compressed.Bytes())
	})
	var buf bytes.Buffer
	// The limit is far below the inflated size: inflating would fail.
	n, err := Download(context.Background(), NewClient(Options{AllowPrivate: true}), srv.URL, &buf, 64<<10)
	if err != nil {
		t.Fatalf("Download error = %v", err)
	}
	if n != int64(compressed.Len()) || !bytes.Equal(buf.Bytes(), compressed.Bytes()) {
		t.Errorf("Download wrote %d bytes, want the %d gzip bytes as sent", n, compressed.Len())
	}
	if acceptEncoding != "identity" {
		t.Errorf("Accept-Encoding = %q, want identity", acceptEncoding)
	}

	// A plain client request (no Download) must not ask for gzip either.
	resp, err := NewClient(Options{AllowPrivate: true}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if acceptEncoding != "" || !bytes.Equal(body, compressed.Bytes()) || resp.Uncompressed {
		t.Errorf("plain GET: Accept-Encoding %q, body %d bytes, Uncompressed %v; want none, the gzip bytes, false", acceptEncoding, len(body), resp.Uncompressed)
	}
}

func TestDownloadStatusError(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})
	var buf bytes.Buffer
	n, err := Download(context.Background(), NewClient(Options{AllowPrivate: true}), srv.URL+"/missing.mp4", &buf, 1<<20)
	var statusErr *StatusError
	if !errors.As(err, &statusErr) || statusErr.StatusCode != http.StatusNotFound || statusErr.Status != "404 Not Found" {
		t.Fatalf("Download error = %#v, want *StatusError{404, \"404 Not Found\"}", err)
	}
	if err.Error() != "server answered 404 Not Found" {
		t.Errorf("message = %q", err.Error())
	}
	if n != 0 || buf.Len() != 0 {
		t.Errorf("Download wrote %d bytes of the error page, want 0", buf.Len())
	}
}

func TestDownloadRejectsBadArguments(t *testing.T) {
	client := NewClient(Options{AllowPrivate: true})
	if _, err := Download(context.Background(), client, "http://example.com/", io.Discard, 0); err == nil {
		t.Error("maxBytes 0 accepted")
	}
	if _, err := Download(context.Background(), nil, "http://example.com/", io.Discard, 1); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := Download(context.Background(), client, "file:///etc/passwd", io.Discard, 1); err == nil {
		t.Error("file: URL accepted")
	}
}

func TestDownloadHonoursContextCancellation(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done() // headers sent, body stalls
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Download(ctx, NewClient(Options{AllowPrivate: true}), srv.URL, io.Discard, 1<<20)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Download error = %v, want context.DeadlineExceeded", err)
	}
}
