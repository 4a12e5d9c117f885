package engine

import (
	"context"
	"fmt"

	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
)

// MaxMultipleCommands is how many commands one run-multiple-ffmpeg-commands
// request may hold.
const MaxMultipleCommands = 10

// fieldMultiple is the request field holding the entries of a multiple request.
const fieldMultiple = "commands"

// SubmitMultiple validates and records 1 to MaxMultipleCommands independent
// commands (each a MULTIPLE_COMMAND record of its own, run in parallel as
// workers allow; one failing does not touch the others) and returns them in
// request order. It is all or nothing: if any entry is invalid, nothing is
// recorded and the *ValidationError names every problem with the entry's
// index (["body","commands",2,"output_files","video"]); the records are
// created in one store transaction.
func (e *Engine) SubmitMultiple(ctx context.Context, accountID string, reqs []SubmitRequest) ([]*store.Command, error) {
	if len(reqs) == 0 || len(reqs) > MaxMultipleCommands {
		return nil, &ValidationError{Problems: template.Errors{template.NewFieldError(
			fmt.Sprintf("commands must hold 1 to %d commands, got %d", MaxMultipleCommands, len(reqs)), "body", fieldMultiple)}}
	}
	var problems template.Errors
	cmds := make([]*store.Command, len(reqs))
	for i, req := range reqs {
		req.multiple = true
		req.FFmpegCommands = nil // each entry is one command
		v, err := e.Validate(req)
		if invalid, ok := err.(*ValidationError); ok {
			problems = append(problems, atEntry(invalid.Problems, i)...)
			continue
		}
		if err != nil {
			return nil, err
		}
		cmds[i] = e.newCommand(accountID, req, v)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	if err := e.cfg.Store.CreateCommands(ctx, cmds); err != nil {
		return nil, fmt.Errorf("engine: record commands: %w", err)
	}
	for _, cmd := range cmds {
		e.enqueueAccepted(ctx, cmd)
	}
	e.log.Debug("commands accepted", "count", len(cmds), "account_id", accountID)
	return cmds, nil
}

// atEntry moves problems found in one entry under that entry's place in
// the request: ["body","output_files",…] becomes
// ["body","commands",i,"output_files",…].
func atEntry(problems template.Errors, i int) template.Errors {
	out := make(template.Errors, len(problems))
	for j, p := range problems {
		loc := []any{"body", fieldMultiple, i}
		rest := p.Loc
		if len(rest) > 0 && rest[0] == "body" {
			rest = rest[1:]
		}
		p.Loc = append(loc, rest...)
		p.Msg = fmt.Sprintf("commands[%d]: %s", i, p.Msg)
		out[j] = p
	}
	return out
}
