package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/store"
)

// sseKeepAlive is how often an event stream with nothing to say sends a
// comment line, so proxies and clients don't take it for dead. A variable
// only so that tests can shorten it.
var sseKeepAlive = 15 * time.Second

func (h *handler) controlRoutes() {
	h.mux.Handle("POST /api/v1/commands/{id}/cancel", h.authed(h.cancelCommand))
	h.mux.Handle("GET /api/v1/commands/{id}/events", h.authed(h.commandEvents))
}

// POST /api/v1/commands/{id}/cancel: 200 with the command once it is
// FAILED/CANCELLED; 202 with it still PROCESSING if its worker (in
// another process that can't be reached at once) has not stopped it within
// engine.CancelWait; 409 if it had already finished.
func (h *handler) cancelCommand(w http.ResponseWriter, r *http.Request) {
	info, err := h.eng.Cancel(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"))
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No command with that id exists in your account.", nil)
		return
	case errors.Is(err, engine.ErrCommandFinished):
		writeError(w, http.StatusConflict, api.CodeConflict,
			fmt.Sprintf("The command has already finished (%s); there is nothing to cancel.", info.Status), nil)
		return
	case err != nil:
		h.internalError(w, r, err)
		return
	}
	obj, err := h.eng.CommandObject(r.Context(), info)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	status := http.StatusOK
	if !info.Status.Final() {
		status = http.StatusAccepted
	}
	writeJSON(w, status, obj)
}

// progressEvent is the data of a "progress" event.
type progressEvent struct {
	CommandID  string   `json:"command_id"`
	Status     string   `json:"status"`
	Progress   *float64 `json:"progress,omitempty"`
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
}

// GET /api/v1/commands/{id}/events: Server-Sent Events. A "status" event
// (data: the command object) now and at every change of status; a
// "progress" event (data: command_id, status, progress, eta_seconds) at
// every change of progress; the stream ends after the final status.
// Changes made by any engine process sharing the store are streamed (see
// engine.Watch for how soon).
func (h *handler) commandEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	account, id := accountFrom(ctx).ID, r.PathValue("id")
	if _, err := h.eng.Get(ctx, account, id); errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No command with that id exists in your account.", nil)
		return
	} else if err != nil {
		h.internalError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	// A stream lasts as long as the command: no server WriteTimeout may
	// cut it.
	rc.SetWriteDeadline(time.Time{})
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: don't buffer the stream
	w.WriteHeader(http.StatusOK)

	var mu sync.Mutex // the watcher and the keep-alive both write
	send := func(chunk []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	// The keep-alive writer must be gone before this handler returns: after
	// that the response is net/http's again, and a write to it would crash
	// the process (a nil bufio.Writer) or land in a reused one.
	var keepAlive sync.WaitGroup
	defer keepAlive.Wait()
	defer cancel()
	keepAlive.Add(1)
	go func() {
		defer keepAlive.Done()
		t := time.NewTicker(sseKeepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if send([]byte(": keep-alive\n\n")) != nil {
					cancel()
					return
				}
			}
		}
	}()
	var lastStatus store.Status
	err := h.eng.Watch(ctx, account, id, func(c *engine.CommandInfo) error {
		obj, err := h.eng.CommandObject(ctx, c)
		if err != nil {
			return err
		}
		name, data := "progress", any(progressEvent{CommandID: obj.CommandID, Status: obj.Status, Progress: obj.Progress, ETASeconds: obj.ETASeconds})
		if c.Status != lastStatus {
			name, data = "status", obj
			lastStatus = c.Status
		}
		return send(sseEvent(name, data))
	})
	if err != nil && ctx.Err() == nil {
		h.log.Warn("event stream ended with an error", "command_id", id, "account_id", account, "err", err)
	}
}

// sseEvent formats one Server-Sent Event: JSON data on one line.
func sseEvent(name string, data any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(data) // ends with the one newline the data line needs
	return append([]byte("event: "+name+"\ndata: "), append(buf.Bytes(), '\n')...)
}
