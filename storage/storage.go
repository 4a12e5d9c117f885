// Package storage is what the engine needs from blob storage, as an
// interface, and the signed links that let clients fetch stored bytes
// without an API key. The implementation over gocloud.dev buckets is
// storage/blobstore; the engine and the HTTP API depend only on this
// package, so they link no storage driver.
//
// Clients fetch stored bytes through storage_url links. Cloud buckets sign
// their own links. Local buckets can't, so their links point at the
// engine's own HTTP handler and are signed by a LinkSigner, which the
// handler checks (signature and expiry) before serving the bytes.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned when a key holds no object.
var ErrNotFound = errors.New("storage: object not found")

// Storage is what the engine needs from blob storage.
type Storage interface {
	// Put stores r's bytes under key.
	Put(ctx context.Context, key string, r io.Reader, contentType string) error
	// Open returns the object for reading; it supports Seek, for HTTP
	// Range requests. ErrNotFound if there is none.
	Open(ctx context.Context, key string) (*Object, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// URL returns a link that fetches the object with a plain GET and no
	// credentials until ttl has passed.
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)
	// Close releases the bucket.
	Close() error
}

// Object is an open stored object.
type Object struct {
	io.ReadSeekCloser
	ContentType string
	Size        int64
	ModTime     time.Time
}

// LinkResolver is implemented by storage that recognises its own links, so
// that a storage_url given back to the engine as an input is read straight
// from the bucket rather than downloaded over HTTP (which, for a local
// bucket, would mean the engine fetching from itself on a loopback address).
type LinkResolver interface {
	// ResolveLink reports whether rawURL is a link into this storage and,
	// if it is, the key it names. A link that this storage signs itself
	// (a local bucket's) but whose signature is wrong or expired gives
	// ok true and ErrBadSignature or ErrLinkExpired. A cloud bucket's
	// presigned URL is recognised by its scheme, host and path prefix;
	// its signature is the cloud's to check, not the engine's, so callers
	// must authorise the key themselves.
	ResolveLink(rawURL string) (key string, ok bool, err error)
}
