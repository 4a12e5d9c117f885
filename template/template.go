package template

import (
	"fmt"
	"sort"
	"strings"
)

// Spec is what a client submitted.
type Spec struct {
	// Commands holds one entry for run-ffmpeg-command and 1..MaxSteps
	// entries for a chain, run in order in one work directory.
	Commands []string
	// CommandField is the JSON field the commands came from, used in error
	// locations. "ffmpeg_command" (also the default when empty) gives
	// ["body","ffmpeg_command"]; any other name is taken to be a list, and
	// its locations carry the step index: ["body","ffmpeg_commands",2].
	CommandField string
	// InputFiles maps alias to URL. The URLs are the engine's business and
	// are not looked at here.
	InputFiles map[string]string
	// OutputFiles maps alias to output file name.
	OutputFiles map[string]string
}

// singleCommandField is the field of run-ffmpeg-command, whose locations
// carry no index.
const singleCommandField = "ffmpeg_command"

// Template is a validated request, ready for substitution.
type Template struct {
	Steps   [][]Word // one argv template per command, leading "ffmpeg" removed
	Inputs  []string // declared input aliases, sorted
	Outputs []string // declared output aliases, sorted
}

// FieldError is one problem with the request, in the shape of one entry of
// the API's 422 "detail" list.
type FieldError struct {
	Loc  []any // e.g. ["body","output_files","out_video"]; elements are strings or ints
	Msg  string
	Type string // always "value_error"
}

// Errors is every problem Parse found, in a deterministic order.
type Errors []FieldError

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Msg
	}
	return strings.Join(msgs, "; ")
}

const valueError = "value_error"

// NewFieldError returns a value_error at loc, for checks made outside this
// package (URLs, metadata, request fields) that report in the same shape.
func NewFieldError(msg string, loc ...any) FieldError {
	return FieldError{Loc: loc, Msg: msg, Type: valueError}
}

// Parse validates spec and builds its Template. On failure the error is
// Errors, listing every problem found: first the input_files, then the
// output_files, then each command in order, then declared aliases no
// command uses. Map keys are visited in sorted order, so the same request
// always gives the same list.
func Parse(spec Spec) (*Template, error) {
	var errs Errors
	add := func(msg string, loc ...any) {
		errs = append(errs, FieldError{Loc: append([]any{"body"}, loc...), Msg: msg, Type: valueError})
	}

	inputs := sortedKeys(spec.InputFiles)
	outputs := sortedKeys(spec.OutputFiles)

	if len(inputs) > MaxInputs {
		add(fmt.Sprintf("at most %d input files are allowed, got %d", MaxInputs, len(inputs)), "input_files")
	}
	for _, alias := range inputs {
		if problem := aliasProblem(alias, inputAliasPrefix, "input"); problem != "" {
			add(problem, "input_files", alias)
		}
	}

	if len(outputs) > MaxOutputs {
		add(fmt.Sprintf("at most %d output files are allowed, got %d", MaxOutputs, len(outputs)), "output_files")
	}
	ownerOfFileName := map[string]string{}
	for _, alias := range outputs {
		if problem := aliasProblem(alias, outputAliasPrefix, "output"); problem != "" {
			add(problem, "output_files", alias)
			continue
		}
		name := spec.OutputFiles[alias]
		if strings.HasPrefix(alias, SetAliasPrefix) && strings.Contains(name, "%") {
			if err := ValidImageSequenceName(name); err != nil {
				add(err.Error(), "output_files", alias)
				continue
			}
		} else if err := ValidOutputFileName(name); err != nil {
			add(err.Error(), "output_files", alias)
			continue
		}
		// Two outputs with one name would overwrite each other in the
		// work directory and the client would get the same file twice.
		if owner, taken := ownerOfFileName[name]; taken {
			add(fmt.Sprintf("output file name %q is already used by %s; each output needs its own file name", name, owner), "output_files", alias)
			continue
		}
		ownerOfFileName[name] = alias
	}
	// An image sequence is every file in the output directory its pattern
	// matches, so no other output may have a name it could match.
	for _, alias := range outputs {
		seq, ok := ParseImageSequence(spec.OutputFiles[alias])
		if !ok || ownerOfFileName[spec.OutputFiles[alias]] != alias {
			continue
		}
		for _, other := range outputs {
			name := spec.OutputFiles[other]
			if other == alias || ownerOfFileName[name] != other {
				continue
			}
			otherSeq, isSeq := ParseImageSequence(name)
			if (isSeq && other < alias && seq.Overlaps(otherSeq)) || (!isSeq && matches(seq, name)) {
				add(fmt.Sprintf("the image sequence %q could include files of %s (%q); give the outputs names that do not overlap", spec.OutputFiles[alias], other, name), "output_files", alias)
			}
		}
	}

	field := spec.CommandField
	if field == "" {
		field = singleCommandField
	}
	indexed := field != singleCommandField
	commandLoc := func(step int) []any {
		if indexed {
			return []any{field, step}
		}
		return []any{field}
	}
	switch {
	case len(spec.Commands) == 0 && indexed:
		add(fmt.Sprintf("%s needs at least one command", field), field)
	case len(spec.Commands) == 0:
		add(fmt.Sprintf("%s is required", field), field)
	case !indexed && len(spec.Commands) > 1:
		add(fmt.Sprintf("%s holds exactly one command, got %d", field, len(spec.Commands)), field)
	case len(spec.Commands) > MaxSteps:
		add(fmt.Sprintf("at most %d commands are allowed, got %d", MaxSteps, len(spec.Commands)), field)
	}

	// Every key the client wrote counts as declared for placeholder
	// lookup, even one rejected above: its own error says what is wrong,
	// and also calling {{video}} "undeclared" would only confuse.
	declared := map[string]bool{}
	for _, alias := range inputs {
		declared[alias] = true
	}
	for _, alias := range outputs {
		declared[alias] = true
	}

	steps := make([][]Word, len(spec.Commands))
	used := map[string]bool{}
	allStepsLexed := len(spec.Commands) > 0
	for step, command := range spec.Commands {
		loc := commandLoc(step)
		if len(command) > MaxCommandBytes {
			add(fmt.Sprintf("the command is %d bytes long; the limit is %d", len(command), MaxCommandBytes), loc...)
			allStepsLexed = false
			continue
		}
		lexed, err := lexCommand(command)
		if err != nil {
			add(err.Error(), loc...)
			allStepsLexed = false
			continue
		}
		steps[step] = lexed.words
		reported := map[string]bool{}
		for _, use := range lexed.uses {
			used[use.alias] = true
			if declared[use.alias] || reported[use.alias] {
				continue
			}
			reported[use.alias] = true
			add(undeclaredMessage(use, inputs, outputs), loc...)
		}
	}

	// An alias may look unused only because the step that uses it could
	// not be read; reporting it then would send the client chasing a
	// problem that is not there.
	if allStepsLexed {
		for _, alias := range inputs {
			if ValidInputAlias(alias) && !used[alias] {
				add(fmt.Sprintf("input %s is declared but no command uses it; refer to it as {{%s}} or remove it", alias, alias), "input_files", alias)
			}
		}
		for _, alias := range outputs {
			if ValidOutputAlias(alias) && !used[alias] {
				add(fmt.Sprintf("output %s is declared but no command uses it; write it as {{%s}} or remove it", alias, alias), "output_files", alias)
			}
		}
	}

	if len(errs) > 0 {
		return nil, errs
	}
	return &Template{Steps: steps, Inputs: inputs, Outputs: outputs}, nil
}

func undeclaredMessage(use placeholderUse, inputs, outputs []string) string {
	alias := shorten(use.alias, 80)
	var fix string
	switch {
	case strings.HasPrefix(use.alias, inputAliasPrefix):
		fix = fmt.Sprintf("add %s to input_files or correct the name", alias)
	case strings.HasPrefix(use.alias, outputAliasPrefix):
		fix = fmt.Sprintf("add %s to output_files or correct the name", alias)
	default:
		fix = "a placeholder names an input_files key (in_…) or an output_files key (out_…)"
	}
	declared := "no aliases are declared"
	if all := append(append([]string{}, inputs...), outputs...); len(all) > 0 {
		for i, key := range all {
			all[i] = displayKey(key)
		}
		declared = "declared aliases: " + shorten(strings.Join(all, ", "), 400)
	}
	return fmt.Sprintf("placeholder %s at offset %d is not declared; %s (%s)",
		shorten(use.written, 100), use.offset, fix, declared)
}

// displayKey shows a well-formed key as it is and quotes anything else, so
// that a key with odd bytes cannot garble a message listing several keys.
func displayKey(key string) string {
	if key != "" && allAliasBytes(key) {
		return key
	}
	return fmt.Sprintf("%q", shorten(key, 80))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Argv returns the argv of one step (without the program name) with every
// placeholder replaced by paths[alias]. It fails if the step does not exist
// or a placeholder has no path (or an empty one): running ffmpeg with a
// hole in its arguments would do something nobody asked for.
func (t *Template) Argv(step int, paths map[string]string) ([]string, error) {
	if step < 0 || step >= len(t.Steps) {
		return nil, fmt.Errorf("template: step %d does not exist (the template has %d)", step, len(t.Steps))
	}
	words := t.Steps[step]
	argv := make([]string, len(words))
	for i, word := range words {
		var b strings.Builder
		for _, part := range word {
			if part.Alias == "" {
				b.WriteString(part.Literal)
				continue
			}
			path, ok := paths[part.Alias]
			if !ok || path == "" {
				return nil, fmt.Errorf("template: no path for placeholder {{%s}} in step %d", part.Alias, step)
			}
			b.WriteString(path)
		}
		argv[i] = b.String()
	}
	return argv, nil
}

func matches(seq ImageSequence, name string) bool {
	_, ok := seq.Match(name)
	return ok
}
