// Package client is a typed Go client for OpenRender's HTTP API, the
// RenderIO-compatible contract under /api/v1. It works against an
// OpenRender server and, by base URL and API key, against any server that
// speaks the same contract.
//
// # Running a command
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("OPENRENDER_API_KEY"))
//	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
//		InputFiles:    map[string]string{"in_video": "https://example.com/in.mp4"},
//		OutputFiles:   map[string]string{"out_video": "small.mp4"},
//		FFmpegCommand: "-i {{in_video}} -vf scale=640:-2 {{out_video}}",
//	})
//	cmd, err := c.WaitForCommand(ctx, id)
//	if err == nil && cmd.Err() == nil {
//		link := *cmd.OutputFiles["out_video"].StorageURL // needs no key
//	}
//
// WaitForCommand follows the server's event stream (GET
// /api/v1/commands/{id}/events, an OpenRender extension), so it sees every
// change of status and progress as it happens; against a server without
// one, or when the stream breaks, it polls GET /api/v1/commands/{id} with
// the backoff the contract asks for: the first wait is one second and it
// grows to a cap (WithPollInterval changes both; WithoutEvents always
// polls). It ends when the command is SUCCESS or FAILED, or when its
// context ends; OnUpdate sees every object it reads, progress included, for
// a progress bar. A FAILED command is not an error of the call:
// (*Command).Err returns a *CommandError carrying the contract's
// error_status and error_message.
//
// # Cancelling, and repeating a request safely
//
// CancelCommand stops a QUEUED or PROCESSING command and returns it, FAILED
// with error_status CANCELLED (an *Error with status 409 if it had already
// finished). A context made by WithIdempotencyKey sends an Idempotency-Key
// with every POST, so a submit whose answer was lost (a timeout, a dropped
// connection) can be sent again and creates nothing new:
//
//	ctx := client.WithIdempotencyKey(ctx, "order-1234-thumbnail")
//	id, err := c.RunFFmpegCommand(ctx, req) // repeat with ctx until it answers
//
// # Errors
//
// Every 4xx and 5xx answer is returned as an *Error carrying the HTTP
// status and the contract's error body: Code (VALIDATION_ERROR,
// NOT_FOUND, UNAUTHORIZED, RATE_LIMITED, ...), Message, and Detail naming
// each field at fault. Use errors.As to read it.
//
// # Endpoints
//
// Commands: RunFFmpegCommand, RunChainedFFmpegCommands,
// RunMultipleFFmpegCommands, GetCommand, ListCommands, WaitForCommand,
// DeleteCommandFiles, CancelCommand, ValidateFFmpegCommand. Files:
// StoreFile, UploadFile (streamed), GetFile, WaitForFile, ListFiles,
// DeleteFile, and Download for a storage_url. Presets: CreatePreset,
// GetPreset, ListPresets, UpdatePreset, DeletePreset, ExecutePreset.
// Webhooks: PutWebhookConfig, GetWebhookConfig, DeleteWebhookConfig,
// ListWebhookDeliveries, RedeliverWebhook.
//
// The response types come from package api, which the server uses to
// write them, so the two can't drift apart.
package client
