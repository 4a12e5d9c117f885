package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// IdempotencyKeyHeader makes a POST idempotent: the same key with the same
// request (method, path, query and body) within the engine's
// IdempotencyTTL (24 h by default) gets the first answer again, status and
// body, and creates nothing; the same key with another request gets 422.
// Keys are per account. IdempotentReplayedHeader marks a replayed answer.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

const (
	// MaxIdempotencyKeyBytes bounds a key.
	MaxIdempotencyKeyBytes = 255
	// idempotencyLock is how long a request holds its key before its
	// answer is stored; past it, the request is presumed dead (its
	// process crashed) and the key can be used again.
	idempotencyLock = 10 * time.Minute
	// idempotencyWait is how long a request waits for a concurrent one
	// with the same key to answer before it gets 409.
	idempotencyWait = 30 * time.Second
	// idempotencyPoll is how often a waiting request looks at the store
	// for an answer given by another process (this process's own answers
	// wake it at once).
	idempotencyPoll = 200 * time.Millisecond
	// maxReplayBodyBytes bounds a stored answer; a larger one is not
	// stored (the key is released instead).
	maxReplayBodyBytes = 1 << 20
)

// idempotent runs a POST that carries an Idempotency-Key, for every POST
// route (ServeHTTP calls it before routing), so a route added later is
// covered without doing anything. The key is reserved in the store before
// next runs, so of concurrent requests with one key exactly one runs; the
// others wait for its answer and replay it.
func (h *handler) idempotent(w http.ResponseWriter, r *http.Request, next http.Handler) {
	key := r.Header.Get(IdempotencyKeyHeader)
	if len(key) > MaxIdempotencyKeyBytes || !printableASCII(key) {
		writeValidation(w, template.Errors{template.NewFieldError(
			"Idempotency-Key must be 1 to 255 printable ASCII characters", "header", IdempotencyKeyHeader)})
		return
	}
	acct, err := h.eng.Authenticate(r.Context(), r.Header.Get(APIKeyHeader))
	if err != nil {
		next.ServeHTTP(w, r) // the route answers 401 (or 500) itself
		return
	}
	cfg := h.eng.Config()
	st := cfg.Store
	sum := sha256.New()
	io.WriteString(sum, r.Method+" "+r.URL.RequestURI()+"\n")
	rec := &store.IdempotencyRecord{AccountID: acct.ID, Key: key, Owner: newToken()}
	waitKey := acct.ID + "\x00" + key
	deadline := time.Now().Add(idempotencyWait)
	for {
		woke, done := h.idemDone.wait(waitKey)
		now := cfg.Now()
		rec.CreatedAt, rec.LockedUntil = now, now.Add(idempotencyLock)
		held, err := st.ReserveIdempotencyKey(r.Context(), rec, now.Add(-cfg.IdempotencyTTL))
		if err != nil {
			done()
			h.internalError(w, r, err)
			return
		}
		if held == nil {
			done()
			break // ours: run the request
		}
		if held.Completed {
			done()
			h.replay(w, r, sum, held)
			return
		}
		if time.Now().After(deadline) {
			done()
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusConflict, api.CodeConflict,
				"A request with this Idempotency-Key is still being processed; retry in a moment.", nil)
			return
		}
		t := time.NewTimer(idempotencyPoll)
		select {
		case <-woke:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
		done()
		if r.Context().Err() != nil {
			return
		}
	}

	body := &hashingBody{ReadCloser: r.Body, sum: sum}
	r.Body = body
	rw := &recordingWriter{ResponseWriter: w}
	completed := false
	defer func() {
		if !completed {
			// A panic, or an answer not worth keeping: free the key for a retry.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := st.ReleaseIdempotencyKey(ctx, acct.ID, key, rec.Owner); err != nil {
				h.log.Warn("could not release an idempotency key", "account_id", acct.ID, "err", err)
			}
		}
		h.idemDone.signal(waitKey)
	}()
	next.ServeHTTP(rw, r)
	status := rw.statusCode()
	if rw.status == 0 || status >= 500 || status == http.StatusTooManyRequests || status == http.StatusUnauthorized ||
		status == http.StatusRequestEntityTooLarge || rw.overflow {
		// Transient, not ours, no answer at all (the client went away), or
		// a body too large, which is refused alike every time and whose
		// rest is not worth reading: a retry with the key runs again.
		return
	}
	// The rest of the body counts too (a handler may stop reading early).
	io.Copy(io.Discard, io.LimitReader(body, cfg.MaxUploadBytes+uploadSlackBytes))
	if body.err != nil && status >= 400 {
		// The body was cut short (the client's connection failed): the
		// answer is about a request the client never finished sending, and
		// its retry with the whole body must run.
		return
	}
	rec.RequestHash = sum.Sum(nil)
	rec.StatusCode, rec.ContentType, rec.Body = status, rw.Header().Get("Content-Type"), rw.body.Bytes()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.CompleteIdempotencyKey(ctx, rec); err != nil {
		h.log.Warn("could not store an idempotent answer", "account_id", acct.ID, "err", err)
		return
	}
	completed = true
}

// replay answers with a completed record if this request is the one it
// answered (same method, path and body), else 422.
func (h *handler) replay(w http.ResponseWriter, r *http.Request, sum hash.Hash, held *store.IdempotencyRecord) {
	io.Copy(sum, io.LimitReader(r.Body, h.eng.Config().MaxUploadBytes+uploadSlackBytes))
	if !bytes.Equal(sum.Sum(nil), held.RequestHash) {
		writeValidation(w, template.Errors{template.NewFieldError(
			"this Idempotency-Key was already used with a different request (method, path or body); use a new key for a new request",
			"header", IdempotencyKeyHeader)})
		return
	}
	if held.ContentType != "" {
		w.Header().Set("Content-Type", held.ContentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(held.Body)))
	w.Header().Set(IdempotentReplayedHeader, "true")
	w.WriteHeader(held.StatusCode)
	w.Write(held.Body)
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hashingBody hashes a request body as the handler reads it, and notes
// whether reading it failed (other than by ending).
type hashingBody struct {
	io.ReadCloser
	sum hash.Hash
	err error
}

func (b *hashingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.sum.Write(p[:n])
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// recordingWriter passes an answer through and keeps a copy of it.
type recordingWriter struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

func (w *recordingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(b) > maxReplayBodyBytes {
		w.overflow = true
	} else {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// signals wakes the requests waiting for a key's answer in this process.
type signals struct {
	mu sync.Mutex
	m  map[string]*signalEntry
}

type signalEntry struct {
	ch    chan struct{}
	users int
}

func (s *signals) wait(key string) (<-chan struct{}, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*signalEntry{}
	}
	e, ok := s.m[key]
	if !ok {
		e = &signalEntry{ch: make(chan struct{})}
		s.m[key] = e
	}
	e.users++
	return e.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		e.users--
		if e.users == 0 && s.m[key] == e {
			delete(s.m, key)
		}
	}
}

func (s *signals) signal(key string) {
	s.mu.Lock()
	e, ok := s.m[key]
	delete(s.m, key)
	s.mu.Unlock()
	if ok {
		close(e.ch)
	}
}
