package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// Limits on metadata, so that a command record stays small.
const (
	MaxMetadataKeys        = 10
	MaxMetadataKeyBytes    = 64
	MaxMetadataStringBytes = 1024
	// JSON allows numbers of any length; one this long is not a count or
	// an id any more, just a way to bloat the record.
	maxMetadataNumberBytes = 64
)

// SubmitRequest is a command to run, as a client sent it.
type SubmitRequest struct {
	InputFiles    map[string]string
	OutputFiles   map[string]string
	FFmpegCommand string
	// FFmpegCommands, when set instead of FFmpegCommand, is a chain: 1 to
	// template.MaxSteps commands run in order in one work dir, recorded
	// as one CHAINED_COMMAND (see SubmitChained).
	FFmpegCommands []string
	Metadata       map[string]any
	WebhookURL     string
	// MaxRunSeconds bounds ffmpeg's run time; nil means the default.
	MaxRunSeconds *float64
	// OriginalRequest is the request body, echoed back as original_request.
	OriginalRequest json.RawMessage

	multiple bool // one entry of a run-multiple-ffmpeg-commands request
}

// Submit validates req, records it as a QUEUED command of the account and
// queues it. When Submit returns, the command is durable: it will reach
// SUCCESS or FAILED, through crashes and restarts. Invalid requests return a
// *ValidationError naming every problem.
func (e *Engine) Submit(ctx context.Context, accountID string, req SubmitRequest) (*store.Command, error) {
	v, err := e.Validate(req)
	if err != nil {
		return nil, err
	}
	cmd := e.newCommand(accountID, req, v)
	if err := e.cfg.Store.CreateCommand(ctx, cmd); err != nil {
		return nil, fmt.Errorf("engine: record command: %w", err)
	}
	e.enqueueAccepted(ctx, cmd)
	e.log.Debug("command accepted", "command_id", cmd.ID, "account_id", accountID)
	return cmd, nil
}

// enqueueAccepted hands a command that is durable in the store to the
// queue. If the push fails, the recovery sweep finds the command in the
// store and queues it. A queue the store fills itself (queue.StoreFed)
// already has it: the store queued it in the transaction that recorded it.
func (e *Engine) enqueueAccepted(ctx context.Context, cmd *store.Command) {
	if fed, ok := e.cfg.Queue.(queue.StoreFed); ok && fed.FedByStore() {
		return
	}
	if err := e.cfg.Queue.Push(ctx, cmd.ID); err != nil {
		e.log.Warn("queue push failed; the recovery sweep will queue the command", "command_id", cmd.ID, "account_id", cmd.AccountID, "err", err)
	}
}

// newCommand is the QUEUED record of a validated request.
func (e *Engine) newCommand(accountID string, req SubmitRequest, v *Validation) *store.Command {
	runSeconds := v.runSeconds

	now := e.cfg.Now()
	cmd := &store.Command{
		ID:        newID(),
		AccountID: accountID,
		Type:      req.commandType(),
		Status:    store.StatusQueued,
		Request:   req.OriginalRequest,
		Spec: store.CommandSpec{
			InputFiles:     req.InputFiles,
			OutputFiles:    req.OutputFiles,
			FFmpegCommands: req.commands(),
			Metadata:       req.Metadata,
			WebhookURL:     req.WebhookURL,
			MaxRunSeconds:  runSeconds,
		},
		Outputs:   reserveOutputs(req.OutputFiles),
		CreatedAt: now,
		UpdatedAt: now,
	}
	if len(cmd.Request) == 0 {
		cmd.Request = json.RawMessage("{}")
	}
	return cmd
}

func (e *Engine) checkInputURLs(inputs map[string]string) template.Errors {
	var problems template.Errors
	for _, alias := range sortedKeys(inputs) {
		if err := e.checkInputURL(inputs[alias]); err != nil {
			problems = append(problems, template.NewFieldError(err.Error(), "body", "input_files", alias))
		}
	}
	return problems
}

func checkMetadata(md map[string]any) template.Errors {
	var problems template.Errors
	if len(md) > MaxMetadataKeys {
		problems = append(problems, template.NewFieldError(
			fmt.Sprintf("metadata has %d keys; at most %d are allowed", len(md), MaxMetadataKeys), "body", "metadata"))
	}
	for _, k := range sortedKeys(md) {
		if k == "" || len(k) > MaxMetadataKeyBytes || !utf8.ValidString(k) {
			problems = append(problems, template.NewFieldError(
				fmt.Sprintf("metadata keys must be 1 to %d bytes of UTF-8", MaxMetadataKeyBytes), "body", "metadata", k))
			continue
		}
		switch v := md[k].(type) {
		case string:
			if len(v) > MaxMetadataStringBytes {
				problems = append(problems, template.NewFieldError(
					fmt.Sprintf("metadata string values may be at most %d bytes", MaxMetadataStringBytes), "body", "metadata", k))
			}
		case json.Number:
			if len(v) > maxMetadataNumberBytes {
				problems = append(problems, template.NewFieldError(
					fmt.Sprintf("metadata numbers may be at most %d characters long", maxMetadataNumberBytes), "body", "metadata", k))
			}
		case bool, float64:
		default:
			problems = append(problems, template.NewFieldError(
				"metadata values must be a string, a number or a boolean", "body", "metadata", k))
		}
	}
	return problems
}

// reserveOutputs gives each declared output its file id now, so the ids a
// client sees while the command is QUEUED are the ids it will download.
func reserveOutputs(outputs map[string]string) []store.OutputRef {
	refs := make([]store.OutputRef, 0, len(outputs))
	for _, alias := range sortedKeys(outputs) {
		refs = append(refs, store.OutputRef{Alias: alias, FileID: newID(), FileName: outputs[alias]})
	}
	return refs
}

// newID returns a UUIDv7: time-ordered, so new rows land at the end of the
// store's indexes instead of at random places in them.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
