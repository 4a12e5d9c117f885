package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
)

// POST /api/v1/run-chained-ffmpeg-commands: ffmpeg_commands run in order in
// one work dir, as one CHAINED_COMMAND.
func (h *handler) runChained(w http.ResponseWriter, r *http.Request) {
	obj, ok := h.readObject(w, r)
	if !ok {
		return
	}
	sub := submitFields(obj)
	sub.FFmpegCommands = obj.stringList("ffmpeg_commands", "ffmpeg_commands is required: a list of 1 to 10 commands")
	if len(obj.problems) > 0 {
		writeValidation(w, obj.problems)
		return
	}
	cmd, err := h.eng.SubmitChained(r.Context(), accountFrom(r.Context()).ID, sub)
	if h.writeFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, api.CommandID{CommandID: cmd.ID})
}

// POST /api/v1/run-multiple-ffmpeg-commands: commands[] run independently,
// each its own MULTIPLE_COMMAND; all accepted or none.
func (h *handler) runMultiple(w http.ResponseWriter, r *http.Request) {
	obj, ok := h.readObject(w, r)
	if !ok {
		return
	}
	// A webhook_url or max_command_run_seconds beside the list applies to
	// every entry that does not set its own.
	webhookURL, _ := obj.string("webhook_url")
	maxRun := obj.number("max_command_run_seconds")
	var entries []json.RawMessage
	switch {
	case !obj.present("commands"):
		obj.bad("commands", "commands is required: a list of 1 to 10 command objects")
	case json.Unmarshal(obj.fields["commands"], &entries) != nil:
		obj.bad("commands", "commands must be a list of command objects")
	}
	subs := make([]engine.SubmitRequest, len(entries))
	for i, raw := range entries {
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil || fields == nil {
			obj.bad("commands", fmt.Sprintf("commands[%d] must be an object with input_files, output_files and ffmpeg_command", i), i)
			continue
		}
		entry := &jsonObject{fields: fields, body: raw}
		sub := submitFields(entry)
		sub.FFmpegCommand = entry.requiredString("ffmpeg_command", "ffmpeg_command is required")
		if sub.WebhookURL == "" {
			sub.WebhookURL = webhookURL
		}
		if sub.MaxRunSeconds == nil {
			sub.MaxRunSeconds = maxRun
		}
		for _, p := range entry.problems {
			p.Loc = append([]any{"body", "commands", i}, p.Loc[1:]...)
			obj.problems = append(obj.problems, p)
		}
		subs[i] = sub
	}
	if len(obj.problems) > 0 {
		writeValidation(w, obj.problems)
		return
	}
	cmds, err := h.eng.SubmitMultiple(r.Context(), accountFrom(r.Context()).ID, subs)
	if h.writeFailure(w, r, err) {
		return
	}
	answer := api.CommandIDs{Commands: make([]api.CommandID, len(cmds))}
	for i, c := range cmds {
		answer.Commands[i] = api.CommandID{CommandID: c.ID}
	}
	writeJSON(w, http.StatusOK, answer)
}

// submitFields reads the fields every kind of submission shares (all but
// the command itself). Problems collect in obj.problems.
func submitFields(obj *jsonObject) engine.SubmitRequest {
	sub := engine.SubmitRequest{
		InputFiles:      obj.stringMap("input_files", "the input file's URL"),
		OutputFiles:     obj.stringMap("output_files", "the output file's name"),
		Metadata:        obj.anyMap("metadata"),
		MaxRunSeconds:   obj.number("max_command_run_seconds"),
		OriginalRequest: obj.body,
	}
	sub.WebhookURL, _ = obj.string("webhook_url")
	return sub
}

// stringList reads a list of strings that must be present, naming each bad
// entry by index. Absent or null is reported with missing; an empty list
// is returned as such, for the engine to refuse with its own message.
func (o *jsonObject) stringList(name, missing string) []string {
	if !o.present(name) {
		o.bad(name, missing)
		return nil
	}
	var raw []json.RawMessage
	if json.Unmarshal(o.fields[name], &raw) != nil {
		o.bad(name, fmt.Sprintf("%s must be a list of strings", name))
		return nil
	}
	list := make([]string, 0, len(raw))
	for i, v := range raw {
		var s string
		if json.Unmarshal(v, &s) != nil {
			o.bad(name, fmt.Sprintf("%s[%d] must be a string", name, i), i)
			continue
		}
		list = append(list, s)
	}
	return list
}
