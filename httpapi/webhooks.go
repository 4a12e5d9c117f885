package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/store"
)

// PUT /api/v1/webhook-config
func (h *handler) putWebhookConfig(w http.ResponseWriter, r *http.Request) {
	obj, ok := h.readObject(w, r)
	if !ok {
		return
	}
	url := obj.requiredString("url", "url is required")
	secret, _ := obj.string("secret")
	if len(obj.problems) > 0 {
		writeValidation(w, obj.problems)
		return
	}
	cfg, err := h.eng.PutWebhookConfig(r.Context(), accountFrom(r.Context()).ID, url, secret)
	if h.writeFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, api.WebhookConfigSaved{Success: true, URL: cfg.URL})
}

// GET /api/v1/webhook-config
func (h *handler) getWebhookConfig(w http.ResponseWriter, r *http.Request) {
	cfg, err := h.eng.GetWebhookConfig(r.Context(), accountFrom(r.Context()).ID)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeJSON(w, http.StatusOK, api.WebhookNotConfigured{Configured: false})
	case err != nil:
		h.internalError(w, r, err)
	default:
		out := api.WebhookConfig{
			Configured: true, URL: cfg.URL, IsActive: cfg.IsActive,
			ConsecutiveFailures: cfg.ConsecutiveFailures,
		}
		if !cfg.DisabledAt.IsZero() {
			t := api.Time(cfg.DisabledAt)
			out.DisabledAt = &t
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// DELETE /api/v1/webhook-config
func (h *handler) deleteWebhookConfig(w http.ResponseWriter, r *http.Request) {
	err := h.eng.DeleteWebhookConfig(r.Context(), accountFrom(r.Context()).ID)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeError(w, http.StatusNotFound, api.CodeNotFound, "Your account has no webhook configured.", nil)
	case err != nil:
		h.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, api.Success{Success: true})
	}
}

// GET /api/v1/webhook-deliveries?command_id=&limit=&offset=
func (h *handler) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset, problems := pageParams(q)
	if len(problems) > 0 {
		writeValidation(w, problems)
		return
	}
	ds, err := h.eng.WebhookDeliveries(r.Context(), accountFrom(r.Context()).ID, engine.DeliveryQuery{
		CommandID: q.Get("command_id"), Limit: limit, Offset: offset,
	})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	page := api.WebhookDeliveryList{Deliveries: make([]api.WebhookDelivery, len(ds)), Limit: limit, Offset: offset}
	for i, d := range ds {
		page.Deliveries[i] = deliveryObject(d)
	}
	writeJSON(w, http.StatusOK, page)
}

// POST /api/v1/webhook-deliveries/{id}/redeliver
func (h *handler) redeliver(w http.ResponseWriter, r *http.Request) {
	re, err := h.eng.Redeliver(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"))
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No delivery with that id exists in your account.", nil)
	case errors.Is(err, engine.ErrAttemptInFlight):
		writeError(w, http.StatusConflict, api.CodeConflict, "An attempt of this event is being made now; wait for its result, then ask again.", nil)
	case errors.Is(err, engine.ErrWebhookDisabled):
		writeError(w, http.StatusConflict, api.CodeConflict, "Your account webhook is disabled or deleted; PUT /api/v1/webhook-config to enable it, then ask again.", nil)
	case err != nil:
		h.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusAccepted, api.Redelivery{Success: true, EventID: re.EventID, Attempt: re.Attempt})
	}
}

func deliveryObject(d *store.WebhookDelivery) api.WebhookDelivery {
	out := api.WebhookDelivery{
		DeliveryID: d.ID, EventID: d.EventID, CommandID: d.CommandID, URL: d.URL,
		Attempt: d.Attempt, AttemptedAt: api.Time(d.AttemptAt),
		ResponseBody: strings.ToValidUTF8(string(d.ResponseBody), "\uFFFD"),
	}
	switch {
	case d.Attempt == 0:
		out.Status = api.DeliveryNotDelivered
	case !d.Finished:
		out.Status = api.DeliveryInFlight
	case d.Success:
		out.Status = api.DeliverySucceeded
	default:
		out.Status = api.DeliveryFailed
	}
	if d.StatusCode != 0 {
		code := d.StatusCode
		out.StatusCode = &code
	}
	if d.Finished && d.Attempt > 0 && d.Latency > 0 {
		ms := float64(d.Latency.Microseconds()) / 1000
		out.LatencyMs = &ms
	}
	if d.Error != "" {
		e := d.Error
		out.Error = &e
	}
	return out
}
