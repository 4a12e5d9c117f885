package httpapi

import (
	"errors"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/storage"
)

// GET /storage/{key...}?expires=…&signature=…
//
// Serves a stored object of a local bucket to whoever holds a valid signed
// link: no API key, as the contract requires of storage_url. Range requests
// work (players seek; download tools resume).
func (h *handler) serveLink(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	h.serveVerified(w, r, key, r.URL.Query().Get("expires"), h.links.Verify(key, r.URL.Query()))
}

// GET /storage/d/{expires}/{signature}/{key...}
//
// A directory link (see storage.DirLinkPrefix): the storage_url of a set of
// files such as an HLS playlist, whose segments a player fetches by their
// relative names through the same signed directory.
func (h *handler) serveDirLink(w http.ResponseWriter, r *http.Request) {
	key, exp := r.PathValue("key"), r.PathValue("expires")
	h.serveVerified(w, r, key, exp, h.links.VerifyDir(key, exp, r.PathValue("signature")))
}

func (h *handler) serveVerified(w http.ResponseWriter, r *http.Request, key, expires string, err error) {
	if err != nil {
		msg := "The link's signature is not valid."
		if errors.Is(err, storage.ErrLinkExpired) {
			msg = "The link has expired; fetch the file or command again for a fresh storage_url."
		}
		writeError(w, http.StatusForbidden, api.CodeForbidden, msg, nil)
		return
	}
	obj, err := h.eng.Config().Storage.Open(r.Context(), key)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "The file no longer exists.", nil)
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	defer obj.Close()
	if obj.ContentType != "" {
		w.Header().Set("Content-Type", obj.ContentType)
	}
	if exp, err := strconv.ParseInt(expires, 10, 64); err == nil {
		w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(secondsUntil(time.Unix(exp, 0))))
	}
	http.ServeContent(&errorBodyWriter{ResponseWriter: w}, r, path.Base(key), obj.ModTime, obj)
}
