// Package blobstore implements storage.Storage over a gocloud.dev/blob
// bucket opened by URL: file:// (the server's default, under its data dir)
// and mem:// work out of the box; s3://, gs:// and azblob:// work once the
// program blank-imports the gocloud driver (cmd/openrender does; an
// embedding app that only wants local disk never links a cloud SDK).
//
// Cloud buckets sign their own storage_url links. Local buckets can't, so
// their links point at the engine's HTTP handler, signed by a
// storage.LinkSigner that the handler checks before serving the bytes.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // local buckets are always available
	_ "gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"

	"github.com/openrender/openrender/storage"
)

// Options configure Open.
type Options struct {
	// PublicURL is the base of the links that the engine's HTTP handler
	// serves for local buckets, e.g. "https://render.example.com". Required
	// for file:// and mem:// buckets.
	PublicURL string
	// Signer signs links for local buckets. Required for file:// and mem://.
	Signer *storage.LinkSigner
}

// Bucket is storage.Storage over a gocloud.dev blob bucket.
type Bucket struct {
	bucket *blob.Bucket
	local  bool // file:// or mem://: links go through LinkPath
	// sidecars: a file:// bucket, which keeps each object's attributes in
	// "<key>.attrs" beside it; no object can have such a key.
	sidecars bool
	opts     Options

	// cloudPrefix is where this cloud bucket's presigned URLs point, for
	// ResolveLink; learned by signing a probe key. A failed probe (the
	// credentials service slow at start-up, say) is retried a minute
	// later, never remembered: without the prefix, the engine's own links
	// would be fetched over HTTP instead of read and authorised by account.
	cloudMu      sync.Mutex
	cloudPrefix  *url.URL
	cloudProbeAt time.Time
}

var (
	_ storage.Storage      = (*Bucket)(nil)
	_ storage.LinkResolver = (*Bucket)(nil)
)

// Open opens the bucket rawURL names. For file:// buckets the directory is
// created if needed, and temporary files are written beside their final
// path (so the final rename never crosses file systems).
func Open(ctx context.Context, rawURL string, opts Options) (*Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: bad URL %q: %w", rawURL, err)
	}
	local := u.Scheme == "file" || u.Scheme == "mem"
	if u.Scheme == "file" {
		q := u.Query()
		if q.Get("create_dir") == "" {
			q.Set("create_dir", "true")
		}
		if q.Get("no_tmp_dir") == "" {
			q.Set("no_tmp_dir", "true")
		}
		if q.Get("dir_file_mode") == "" {
			q.Set("dir_file_mode", "0700")
		}
		u.RawQuery = q.Encode()
	}
	if local && (opts.PublicURL == "" || opts.Signer == nil) {
		return nil, errors.New("storage: a local bucket needs Options.PublicURL and Options.Signer to make storage_url links")
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", redact(u), err)
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	return &Bucket{bucket: b, local: local, sidecars: u.Scheme == "file", opts: opts}, nil
}

// OpenBucket wraps an already opened gocloud bucket. local says whether
// links must go through the engine's handler (true) or be the bucket's own
// signed URLs (false).
func OpenBucket(b *blob.Bucket, local bool, opts Options) (*Bucket, error) {
	if local && (opts.PublicURL == "" || opts.Signer == nil) {
		return nil, errors.New("storage: a local bucket needs Options.PublicURL and Options.Signer")
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	return &Bucket{bucket: b, local: local, opts: opts}, nil
}

// redact drops credentials that may sit in a bucket URL's query before it
// reaches an error message or a log.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

// Put implements storage.Storage.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, contentType string) error {
	// Closing a blob writer commits the object, unless its context was
	// cancelled first: that is how a failed copy leaves no partial object.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", key, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel()
		w.Close()
		return fmt.Errorf("storage: write %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("storage: write %s: %w", key, err)
	}
	return nil
}

// Open implements storage.Storage.
func (b *Bucket) Open(ctx context.Context, key string) (*storage.Object, error) {
	if b.sidecars && strings.HasSuffix(key, fileblobAttrsExt) {
		// fileblob refuses the name with an error of unknown kind; it
		// holds no object, and a directory link lets anyone ask for it.
		return nil, storage.ErrNotFound
	}
	r, err := b.bucket.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", key, err)
	}
	return &storage.Object{ReadSeekCloser: r, ContentType: r.ContentType(), Size: r.Size(), ModTime: r.ModTime()}, nil
}

// fileblobAttrsExt ends the names of fileblob's attribute files.
const fileblobAttrsExt = ".attrs"

// Delete implements storage.Storage.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	err := b.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

// URL implements storage.Storage.
func (b *Bucket) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if b.local {
		return b.opts.PublicURL + b.opts.Signer.Sign(key, time.Now().Add(ttl)), nil
	}
	// S3 and GCS refuse V4 presigned URLs that live longer than 7 days:
	// a longer configured lifetime would make every link unusable.
	ttl = min(ttl, MaxPresignedTTL)
	u, err := b.bucket.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: ttl})
	if err != nil {
		return "", fmt.Errorf("storage: sign URL for %s: %w", key, err)
	}
	return u, nil
}

// MaxPresignedTTL is the longest lifetime a cloud bucket's presigned URL
// may have (the limit of S3 and GCS V4 signatures); longer requests are
// shortened to it.
const MaxPresignedTTL = 7 * 24 * time.Hour

// Local reports whether links to this bucket are served by the engine.
func (b *Bucket) Local() bool { return b.local }

// Close implements storage.Storage.
func (b *Bucket) Close() error { return b.bucket.Close() }

// LinkSigner returns the signer of a local bucket's links, or nil for a
// bucket that signs its own.
func (b *Bucket) LinkSigner() *storage.LinkSigner {
	if !b.local {
		return nil
	}
	return b.opts.Signer
}

var _ storage.DirLinker = (*Bucket)(nil)

// DirURL implements storage.DirLinker for local buckets. A cloud bucket's
// presigned URL signs one object, so it answers ok false.
func (b *Bucket) DirURL(ctx context.Context, key string, ttl time.Duration) (string, bool, error) {
	if !b.local {
		return "", false, nil
	}
	return b.opts.PublicURL + b.opts.Signer.SignDir(key, time.Now().Add(ttl)), true, nil
}
