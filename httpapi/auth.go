package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/store"
)

// APIKeyHeader carries the API key on every /api/v1 request.
const APIKeyHeader = "X-API-KEY"

type accountKey struct{}

// accountFrom returns the account authed put in the request's context.
func accountFrom(ctx context.Context) *store.Account {
	a, _ := ctx.Value(accountKey{}).(*store.Account)
	return a
}

// authed wraps a handler that needs an account: no key, a malformed key or
// an unknown key all answer 401, alike, so probing learns nothing.
func (h *handler) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(APIKeyHeader)
		if key == "" {
			writeError(w, http.StatusUnauthorized, api.CodeUnauthorized,
				"Send your API key in the X-API-KEY header.", nil)
			return
		}
		acct, err := h.eng.Authenticate(r.Context(), key)
		if errors.Is(err, engine.ErrUnauthorized) {
			writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "The API key is not valid.", nil)
			return
		}
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		// Only POSTs create work; reads stay cheap and unlimited.
		if r.Method == http.MethodPost && h.rateLimited(w, acct.ID) {
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, acct)))
	})
}

func (h *handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, api.CodeInternalError,
		"The server hit an internal error; it was logged. Try again later.", nil)
}
