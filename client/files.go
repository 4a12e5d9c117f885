package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/openrender/openrender/api"
)

// File statuses.
const (
	FileProcessing = "PROCESSING"
	FileStored     = "STORED"
	FileFailed     = "FAILED"
)

// StoreFile asks the server to fetch fileURL and store it; it is fetched
// and probed in the background (WaitForFile waits for it). It returns the
// new file's id.
func (c *Client) StoreFile(ctx context.Context, fileURL string) (string, error) {
	var out api.FileID
	if err := c.do(ctx, "POST", "/files/store-file", nil, map[string]string{"file_url": fileURL}, &out); err != nil {
		return "", err
	}
	return out.FileID, nil
}

// UploadFile streams r to the server as a multipart upload named name
// (only its base name is kept) and returns the new file's id. The bytes
// are never held whole in memory, on either side.
func (c *Client) UploadFile(ctx context.Context, name string, r io.Reader) (string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	if k := idempotencyKey(ctx); k != "" {
		// The server matches a repeated key by the whole body, boundary
		// included: a random boundary would make a retry a "different"
		// request.
		sum := sha256.Sum256([]byte("openrender-upload\x00" + k))
		mw.SetBoundary(hex.EncodeToString(sum[:]))
	}
	contentType := mw.FormDataContentType()
	written := make(chan struct{})
	go func() {
		defer close(written)
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoteEscaper.Replace(name)))
		h.Set("Content-Type", "application/octet-stream")
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, r)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := c.newRequest(ctx, "POST", "/files/upload", nil, pr)
	if err != nil {
		pr.CloseWithError(err)
		<-written
		return "", err
	}
	req.Header.Set("Content-Type", contentType)
	var out api.FileID
	err = c.send(req, &out)
	// Unblock the writer if the server answered before reading it all,
	// and let it finish: r is the caller's again once this returns.
	pr.CloseWithError(errors.New("openrender: upload ended"))
	<-written
	if err != nil {
		return "", err
	}
	return out.FileID, nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

// GetFile returns a file of the key's account.
func (c *Client) GetFile(ctx context.Context, id string) (*api.File, error) {
	var out api.File
	if err := c.do(ctx, "GET", "/files/"+escape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// WaitForFile polls a file until it is STORED or FAILED (a store-file
// fetch runs in the background), with WaitForCommand's backoff.
func (c *Client) WaitForFile(ctx context.Context, id string) (*api.File, error) {
	var f *api.File
	err := c.poll(ctx, func() (bool, error) {
		got, err := c.GetFile(ctx, id)
		if err != nil {
			return false, err
		}
		f = got
		return got.Status != FileProcessing, nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ListFiles returns a page of the account's files (uploads, stored URLs
// and command outputs), newest first.
func (c *Client) ListFiles(ctx context.Context, o ListOptions) (*api.FileList, error) {
	var out api.FileList
	if err := c.do(ctx, "GET", "/files", o.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteFile removes a file's bytes; its record stays, marked deleted. A
// file already deleted is an *Error with Code NOT_FOUND.
func (c *Client) DeleteFile(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/files/"+escape(id), nil, nil, nil)
}

// Download writes the bytes at a storage_url to w and returns how many it
// wrote. storage_url links are signed and need no key, so none is sent:
// they may point at a cloud bucket that must not see it.
func (c *Client) Download(ctx context.Context, storageURL string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", storageURL, nil)
	if err != nil {
		return 0, fmt.Errorf("openrender: download: %w", err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("openrender: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, decodeError(resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("openrender: download: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("openrender: download: got %d of %d bytes", n, resp.ContentLength)
	}
	return n, nil
}
