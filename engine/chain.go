package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/openrender/openrender/store"
	"github.com/openrender/openrender/template"
	"github.com/openrender/openrender/template/policy"
)

// A chain is 1 to template.MaxSteps commands run in order in one work dir,
// recorded as one CHAINED_COMMAND. A later step reads what an earlier one
// wrote, by the output placeholder or by a plain intermediate file name
// (template/policy decides which names a step may read); only the declared
// outputs are stored once the last step has run. The run itself is the
// ordinary one (run.go loops over the steps): ffmpeg_command_run_seconds is
// the sum of the steps, and the first failing step fails the chain with its
// number in the error message.

// stepArgvs builds every step's argv (without the program name), with the
// placeholders replaced by paths and a chain's intermediate files placed in
// the work dir's tmp/ (the work dir itself is read-only to ffmpeg; tmp/ is
// writable, and only declared outputs, in out/, are ever stored).
func stepArgvs(tmpl *template.Template, paths map[string]string) ([][]string, error) {
	var intermediates [][]int
	if len(tmpl.Steps) > 1 {
		intermediates = policy.Intermediates(tmpl)
	}
	argvs := make([][]string, len(tmpl.Steps))
	for step := range tmpl.Steps {
		argv, err := tmpl.Argv(step, paths)
		if err != nil {
			return nil, err
		}
		if step < len(intermediates) {
			for _, i := range intermediates[step] {
				argv[i] = tmpDir + "/" + argv[i]
			}
		}
		argvs[step] = argv
	}
	return argvs, nil
}

// SubmitChained validates and records a chain (req.FFmpegCommands; its
// FFmpegCommand is ignored) exactly as Submit does a single command.
func (e *Engine) SubmitChained(ctx context.Context, accountID string, req SubmitRequest) (*store.Command, error) {
	if req.FFmpegCommands == nil {
		// An empty chain is refused by validation; nil would be taken for
		// a single command.
		req.FFmpegCommands = []string{}
	}
	return e.Submit(ctx, accountID, req)
}

// Field names of the request bodies, as error locations use them.
const (
	fieldCommand  = "ffmpeg_command"
	fieldCommands = "ffmpeg_commands"
)

// isChain reports whether the request is a chain (FFmpegCommands set).
func (r SubmitRequest) isChain() bool { return r.FFmpegCommands != nil }

// commands is what the request runs, one entry per step.
func (r SubmitRequest) commands() []string {
	if r.isChain() {
		return r.FFmpegCommands
	}
	return []string{r.FFmpegCommand}
}

// commandField is the request field the commands came from.
func (r SubmitRequest) commandField() string {
	if r.isChain() {
		return fieldCommands
	}
	return fieldCommand
}

func (r SubmitRequest) commandType() store.CommandType {
	switch {
	case r.isChain():
		return store.TypeChainedCommand
	case r.multiple:
		return store.TypeMultipleCommand
	}
	return store.TypeFFmpegCommand
}

// specCommandField is the field a stored command's commands came from, for
// the validation a run repeats.
func specCommandField(c *store.Command) string {
	if c.Type == store.TypeChainedCommand || len(c.Spec.FFmpegCommands) > 1 {
		return fieldCommands
	}
	return fieldCommand
}

// stepError names the failing step of a chain in the error message, so a
// client knows which of its commands to look at. A single command's error
// is left as it is.
func stepError(err error, step, steps int) error {
	var re *runError
	if steps < 2 || !errors.As(err, &re) {
		return err
	}
	return &runError{status: re.status, message: fmt.Sprintf("step %d of %d (ffmpeg_commands[%d]) failed: %s", step+1, steps, step, re.message)}
}
