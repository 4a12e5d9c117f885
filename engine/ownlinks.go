package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/openrender/openrender/internal/fetch"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/store"
)

// A storage_url this engine handed out may come back as an input (of a
// command, or of store-file). Such a link is read straight from the bucket
// with Storage.Open, never downloaded over HTTP: a local bucket's links
// point at this very server, often on a loopback address that the download
// client refuses, and a cloud bucket is closer to the engine than its
// public URL is.
//
// Who may read it is decided by the account, not by the link: the key must
// be the blob of a stored, undeleted file of the account that submitted the
// input. Another account's link, like a deleted file's, fails the input
// with UNREACHABLE_INPUT_FILE, exactly as a missing URL would (accounts
// can't see each other's files, not even to learn that they exist). A local
// link must also carry a valid signature at submit time (else 422): a
// link the engine never signed is not one of its links. Its expiry is not
// checked again when the command runs, since a queued command may start
// after its input links expire and the account check already authorises it.
// A cloud bucket's presigned URL is recognised by bucket (see
// storage.LinkResolver); its signature is the cloud's business.

var (
	// errNotOwnFile: the link points into the engine's storage but names
	// no stored file of the account.
	errNotOwnFile = errors.New("the link names no stored file of the account")
	// errOwnStorage wraps a failure to read the engine's own bucket.
	errOwnStorage = errors.New("reading the engine's storage failed")
)

// ownLink reports whether rawURL is a link into the engine's storage, and
// the key it names. A local link with a forged signature is not ours.
func (e *Engine) ownLink(rawURL string) (key string, ok bool) {
	r, isResolver := e.cfg.Storage.(storage.LinkResolver)
	if !isResolver {
		return "", false
	}
	key, ok, err := r.ResolveLink(rawURL)
	if !ok || (err != nil && !errors.Is(err, storage.ErrLinkExpired)) {
		return "", false
	}
	return key, true
}

// checkInputURL is the submit-time check of an input URL: an own link must
// carry a valid signature; any other URL must pass fetch.CheckURL.
func (e *Engine) checkInputURL(rawURL string) error {
	if r, isResolver := e.cfg.Storage.(storage.LinkResolver); isResolver {
		if _, own, err := r.ResolveLink(rawURL); own {
			switch {
			case errors.Is(err, storage.ErrLinkExpired):
				return errors.New("this storage_url has expired; fetch the file again for a fresh one")
			case err != nil:
				return errors.New("this storage_url's signature is not valid; use the link exactly as the API returned it")
			}
			return nil
		}
	}
	return fetch.CheckURL(rawURL, e.cfg.AllowPrivateURLs)
}

// ownFile returns the stored file whose blob is key, if it belongs to
// accountID and is stored and not deleted; otherwise errNotOwnFile.
func (e *Engine) ownFile(ctx context.Context, accountID, key string) (*store.File, error) {
	// Keys are files/<file id>/...: see blobKey and fileBlobKey.
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 3 || parts[0] != "files" {
		return nil, errNotOwnFile
	}
	f, err := e.cfg.Store.GetFile(ctx, parts[1])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotOwnFile
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOwnStorage, err)
	}
	if f.AccountID != accountID || f.BlobKey != key || f.IsDeleted || f.Status != store.FileStored {
		return nil, errNotOwnFile
	}
	return f, nil
}

// copyOwnFile copies the blob of an own link into w, within MaxInputBytes.
func (e *Engine) copyOwnFile(ctx context.Context, accountID, key string, w io.Writer) error {
	if _, err := e.ownFile(ctx, accountID, key); err != nil {
		return err
	}
	obj, err := e.cfg.Storage.Open(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return errNotOwnFile // deleted between the check and the read
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errOwnStorage, err)
	}
	defer obj.Close()
	if obj.Size > e.cfg.MaxInputBytes {
		return fmt.Errorf("%w: the stored file is %d bytes", fetch.ErrTooLarge, obj.Size)
	}
	if _, err := io.Copy(w, obj); err != nil {
		if errors.Is(err, errDiskWrite) {
			return err
		}
		return fmt.Errorf("%w: %v", errOwnStorage, err)
	}
	return nil
}
