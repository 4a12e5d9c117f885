package client

import (
	"context"

	"github.com/openrender/openrender/api"
)

// Command statuses. A command only moves forward: QUEUED → PROCESSING →
// SUCCESS or FAILED.
const (
	StatusQueued     = "QUEUED"
	StatusProcessing = "PROCESSING"
	StatusSuccess    = "SUCCESS"
	StatusFailed     = "FAILED"
)

// Command types.
const (
	TypeFFmpegCommand   = "FFMPEG_COMMAND"
	TypeChainedCommand  = "CHAINED_COMMAND"
	TypeMultipleCommand = "MULTIPLE_COMMAND"
)

// Command is the command object GET /api/v1/commands/{id} returns (and a
// webhook carries), with the methods a caller needs to act on it. Progress
// and ETASeconds are set while it is PROCESSING, by servers that report
// progress (an extension).
type Command struct {
	api.Command
}

// Done reports whether the command has finished (SUCCESS or FAILED).
func (c *Command) Done() bool { return c.Status == StatusSuccess || c.Status == StatusFailed }

// Err is a *CommandError when the command FAILED, else nil.
func (c *Command) Err() error {
	if c.Status != StatusFailed {
		return nil
	}
	return &CommandError{CommandID: c.CommandID, ErrorStatus: c.ErrorStatus, ErrorMessage: c.ErrorMessage}
}

// RunRequest is the body of POST /api/v1/run-ffmpeg-command and
// /api/v1/validate-ffmpeg-command.
type RunRequest struct {
	// InputFiles maps aliases starting with "in_" to URLs (or storage_urls
	// of files stored in the server).
	InputFiles map[string]string `json:"input_files,omitempty"`
	// OutputFiles maps aliases starting with "out_" to file names.
	OutputFiles map[string]string `json:"output_files,omitempty"`
	// FFmpegCommand refers to files only as {{alias}} or <<alias>>; the
	// leading "ffmpeg" is optional.
	FFmpegCommand string `json:"ffmpeg_command"`
	// Metadata (at most 10 keys of string, number or bool values) comes back
	// in the command object as submitted.
	Metadata map[string]any `json:"metadata,omitempty"`
	// WebhookURL overrides the account's webhook for this command.
	WebhookURL string `json:"webhook_url,omitempty"`
	// MaxCommandRunSeconds bounds the run; past it the command FAILED with
	// TIMEOUT. Zero: the server's default.
	MaxCommandRunSeconds float64 `json:"max_command_run_seconds,omitempty"`
}

// ChainedRequest is the body of POST /api/v1/run-chained-ffmpeg-commands:
// 1–10 commands run in order in one work dir, so a later one may read an
// earlier one's output placeholder.
type ChainedRequest struct {
	InputFiles           map[string]string `json:"input_files,omitempty"`
	OutputFiles          map[string]string `json:"output_files,omitempty"`
	FFmpegCommands       []string          `json:"ffmpeg_commands"`
	Metadata             map[string]any    `json:"metadata,omitempty"`
	WebhookURL           string            `json:"webhook_url,omitempty"`
	MaxCommandRunSeconds float64           `json:"max_command_run_seconds,omitempty"`
}

// MultipleCommand is one entry of a MultipleRequest.
type MultipleCommand struct {
	InputFiles    map[string]string `json:"input_files,omitempty"`
	OutputFiles   map[string]string `json:"output_files,omitempty"`
	FFmpegCommand string            `json:"ffmpeg_command"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// MultipleRequest is the body of POST /api/v1/run-multiple-ffmpeg-commands:
// 1–10 commands, each run on its own.
type MultipleRequest struct {
	Commands []MultipleCommand `json:"commands"`
}

// RunFFmpegCommand submits a command and returns its id. The command is
// QUEUED; WaitForCommand waits for its end.
func (c *Client) RunFFmpegCommand(ctx context.Context, r RunRequest) (string, error) {
	var out api.CommandID
	if err := c.do(ctx, "POST", "/run-ffmpeg-command", nil, r, &out); err != nil {
		return "", err
	}
	return out.CommandID, nil
}

// RunChainedFFmpegCommands submits a chain of commands that run in order,
// as one command of type CHAINED_COMMAND, and returns its id.
func (c *Client) RunChainedFFmpegCommands(ctx context.Context, r ChainedRequest) (string, error) {
	var out api.CommandID
	if err := c.do(ctx, "POST", "/run-chained-ffmpeg-commands", nil, r, &out); err != nil {
		return "", err
	}
	return out.CommandID, nil
}

// RunMultipleFFmpegCommands submits independent commands at once and
// returns their ids in request order.
func (c *Client) RunMultipleFFmpegCommands(ctx context.Context, r MultipleRequest) ([]string, error) {
	var out struct {
		Commands []api.CommandID `json:"commands"`
	}
	if err := c.do(ctx, "POST", "/run-multiple-ffmpeg-commands", nil, r, &out); err != nil {
		return nil, err
	}
	ids := make([]string, len(out.Commands))
	for i, c := range out.Commands {
		ids[i] = c.CommandID
	}
	return ids, nil
}

// ValidateFFmpegCommand checks a request as submission would, running
// nothing (an extension). A valid request answers the argv that would run;
// an invalid one is an *Error with Code VALIDATION_ERROR naming each field
// at fault.
func (c *Client) ValidateFFmpegCommand(ctx context.Context, r RunRequest) (*api.Validation, error) {
	var out api.Validation
	if err := c.do(ctx, "POST", "/validate-ffmpeg-command", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCommand returns a command of the key's account.
func (c *Client) GetCommand(ctx context.Context, id string) (*Command, error) {
	var out Command
	if err := c.do(ctx, "GET", "/commands/"+escape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCommandsOptions pages GET /api/v1/commands and filters it by status.
type ListCommandsOptions struct {
	Limit  int
	Offset int
	// Status keeps only commands in this status (StatusQueued, ...).
	Status string
}

// CommandList is a page of commands, newest first.
type CommandList struct {
	Commands []Command `json:"commands"`
	Limit    int       `json:"limit"`
	Offset   int       `json:"offset"`
}

// ListCommands returns a page of the account's commands, newest first. A
// page shorter than its limit is the last.
func (c *Client) ListCommands(ctx context.Context, o ListCommandsOptions) (*CommandList, error) {
	q := ListOptions{Limit: o.Limit, Offset: o.Offset}.query()
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	var out CommandList
	if err := c.do(ctx, "GET", "/commands", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteCommandFiles deletes a finished command's output files (the record
// stays) and returns how many were deleted.
func (c *Client) DeleteCommandFiles(ctx context.Context, id string) (int, error) {
	var out api.CommandFilesDeleted
	if err := c.do(ctx, "DELETE", "/commands/"+escape(id)+"/files", nil, nil, &out); err != nil {
		return 0, err
	}
	return out.FilesDeleted, nil
}

// CancelCommand asks the server to stop a QUEUED or PROCESSING command (an
// extension) and returns the command as the server answered. When the
// engine has stopped it (HTTP 200) it is FAILED with error_status
// CANCELLED; when its worker is in another process that has not yet
// stopped it (202), it is still PROCESSING and will end FAILED/CANCELLED
// shortly (WaitForCommand sees the end). A command that had already
// finished is an *Error with StatusCode 409 and Code CONFLICT.
func (c *Client) CancelCommand(ctx context.Context, id string) (*Command, error) {
	var out Command
	if err := c.do(ctx, "POST", "/commands/"+escape(id)+"/cancel", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
