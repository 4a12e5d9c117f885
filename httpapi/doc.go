// Package httpapi serves OpenRender's HTTP contract (the RenderIO/Rendi API
// under /api/v1) with net/http alone. New returns an ordinary http.Handler,
// so it mounts on any router:
//
//	mux := http.NewServeMux()
//	mux.Handle("/", httpapi.New(eng, httpapi.Config{}))
//
// or under a prefix of an existing app, next to the app's own routes:
//
//	mux.Handle("/render/", http.StripPrefix("/render", httpapi.New(eng, httpapi.Config{})))
//
// With a prefix, give the bucket the prefixed public URL
// (blobstore.Options.PublicURL "https://app.example.com/render"), so that
// the storage links the handler signs and serves point back at it. The
// handler routes on the request's path, so third-party routers mount it
// the same way (see examples/router for chi).
//
// # What it serves
//
// Commands: POST /api/v1/run-ffmpeg-command, /api/v1/run-chained-ffmpeg-commands
// (steps in order in one work dir) and /api/v1/run-multiple-ffmpeg-commands
// (independent commands, ids in request order); GET /api/v1/commands and
// /api/v1/commands/{id} (with progress and eta_seconds while PROCESSING);
// DELETE /api/v1/commands/{id}/files; POST /api/v1/commands/{id}/cancel
// (200 with the command FAILED/CANCELLED, 202 while another process stops
// it, 409 if it had finished); GET /api/v1/commands/{id}/events
// (Server-Sent Events: a "status" event with the command object at every
// change of status, a "progress" event at every change of progress, the
// stream ending after the final status); and POST
// /api/v1/validate-ffmpeg-command (validation alone). Files: POST
// /api/v1/files/store-file and /api/v1/files/upload (streamed multipart),
// GET /api/v1/files and /api/v1/files/{id}, DELETE /api/v1/files/{id}.
// Presets: POST and GET /api/v1/presets, GET, PUT and DELETE
// /api/v1/presets/{id}, POST /api/v1/presets/{id}/execute; system presets
// are readable by every account and immutable (403). Webhooks: PUT, GET and
// DELETE /api/v1/webhook-config, GET /api/v1/webhook-deliveries and POST
// /api/v1/webhook-deliveries/{id}/redeliver. Storage links of local
// buckets: GET /storage/..., signed and needing no key. Operations, without
// a key: GET /healthz, /readyz, /metrics (Prometheus) and
// /api/v1/openapi.json (the OpenAPI 3.1 document of all of the above).
//
// # Requests and answers
//
// Every /api/v1 request carries an X-API-KEY header; the key's account is
// the only one whose commands, files and webhook the request sees (another
// account's id answers 404). JSON bodies are capped (Config.MaxBodyBytes),
// unknown fields are ignored, and every field is checked: a request that
// breaks a rule gets 422 VALIDATION_ERROR with a detail entry naming each
// field at fault. Every 4xx and 5xx answer, unknown paths and methods
// included, has the contract's JSON body {"error", "message", "detail"};
// a 500 never shows internal details (they are logged). POST requests are
// rate limited per account (Config.RateLimitPerMinute), answering 429 with
// Retry-After. Every POST may carry an Idempotency-Key header
// (IdempotencyKeyHeader): the same key and request within the engine's
// IdempotencyTTL gets the first answer again (marked Idempotent-Replayed)
// and creates nothing; the key with a different request is a 422.
//
// Package client is the typed Go client for this handler.
package httpapi
