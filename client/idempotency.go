package client

import "context"

// HeaderIdempotencyKey makes a POST idempotent on servers that support it
// (an extension): the same key with the same request within 24 hours gets
// the first answer again and creates nothing new; the same key with a
// different request is a 422 VALIDATION_ERROR.
const HeaderIdempotencyKey = "Idempotency-Key"

type idempotencyKeyCtx struct{}

// WithIdempotencyKey returns a context whose POST requests (RunFFmpegCommand,
// RunChainedFFmpegCommands, RunMultipleFFmpegCommands, ExecutePreset,
// CreatePreset, StoreFile, UploadFile, CancelCommand, ...) carry key in the
// Idempotency-Key header, so a call that timed out or lost its connection
// can be repeated without running the command twice:
//
//	ctx := client.WithIdempotencyKey(ctx, "order-1234-thumbnail")
//	id, err := c.RunFFmpegCommand(ctx, req) // safe to repeat with this ctx
//
// Use one key per logical request; the server answers a key reused with
// another body with 422. GET and DELETE requests never carry it. An empty
// key sends no header.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyCtx{}, key)
}

// idempotencyKey is the key WithIdempotencyKey put in ctx, if any.
func idempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKeyCtx{}).(string)
	return k
}
