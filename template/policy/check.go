package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/openrender/openrender/template"
)

// Check validates every step of t against the allow-list and returns every
// problem found, in argv order. field is the request field the commands
// came from ("ffmpeg_command", or "ffmpeg_commands" for a chain, whose
// locations carry the step index). Each problem's location ends with the
// offending argv word as the client wrote it (placeholders shown as
// {{alias}}), and its message names the token inside it (a filter, an
// option key) and why it is refused.
func Check(t *template.Template, field string) template.Errors {
	if field == "" {
		field = "ffmpeg_command"
	}
	c := newChecker(t, field)
	for step, words := range t.Steps {
		c.checkStep(step, words)
	}
	return c.problems
}

// Intermediates returns, for each step of a chain that passes Check, the
// argv positions (indexes into t.Steps[step]) of the words that name an
// intermediate file: a plain file name that one step writes and a later one
// reads. The engine places those files in a writable scratch directory,
// since the work directory itself is read-only to ffmpeg.
func Intermediates(t *template.Template) [][]int {
	c := newChecker(t, "ffmpeg_commands")
	c.intermediates = make([][]int, len(t.Steps))
	for step, words := range t.Steps {
		c.checkStep(step, words)
	}
	return c.intermediates
}

func newChecker(t *template.Template, field string) *checker {
	return &checker{
		field:   field,
		indexed: field != "ffmpeg_command",
		inputs:  setOf(t.Inputs...),
		outputs: setOf(t.Outputs...),
		written: map[string]bool{},
		chain:   len(t.Steps) > 1,
	}
}

type checker struct {
	field   string
	indexed bool
	inputs  map[string]bool // declared input aliases
	outputs map[string]bool // declared output aliases
	chain   bool            // more than one step: intermediate files are allowed
	// written holds the output aliases and intermediate file names (which
	// always contain a '.', so never collide with an alias) that an earlier
	// step wrote, which later steps may read.
	written  map[string]bool
	problems template.Errors

	// per step
	step          int
	wroteThisStep []string
	pos           int // the index of the word being checked

	// intermediates, when not nil, collects the positions of intermediate
	// file names, per step (see Intermediates).
	intermediates [][]int
}

func (c *checker) intermediateAt() {
	if c.intermediates != nil {
		c.intermediates[c.step] = append(c.intermediates[c.step], c.pos)
	}
}

// pending is the -f given since the last input or output: ffmpeg applies
// it to whichever comes next.
type pending struct {
	format string
	word   template.Word
}

func (c *checker) refuse(w template.Word, format string, args ...any) {
	loc := []any{"body", c.field}
	if c.indexed {
		loc = append(loc, c.step)
	}
	loc = append(loc, shownWord(w))
	c.problems = append(c.problems, template.NewFieldError(fmt.Sprintf(format, args...), loc...))
}

// shownWord is a word as a client would recognise it, cut to a length
// that keeps messages readable.
func shownWord(w template.Word) string {
	s := w.String()
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

func (c *checker) checkStep(step int, words []template.Word) {
	c.step = step
	c.wroteThisStep = nil
	var fmtNext pending
	for i := 0; i < len(words); i++ {
		w := words[i]
		text, isLiteral := literalText(w)
		if !isLiteral || !strings.HasPrefix(text, "-") || text == "-" {
			c.pos = i
			c.checkOutput(w, fmtNext)
			fmtNext = pending{}
			continue
		}
		rule, ok := c.lookupOption(w, text)
		if !ok {
			// Unknown options mostly take a value; skipping a word that
			// does not look like an option keeps one mistake from being
			// reported again as a bad output name.
			if i+1 < len(words) {
				if next, lit := literalText(words[i+1]); !lit || !strings.HasPrefix(next, "-") {
					i++
				}
			}
			continue
		}
		if rule.value == noValue {
			continue
		}
		if i+1 >= len(words) {
			c.refuse(w, "%s needs a value after it", text)
			continue
		}
		i++
		value := words[i]
		switch rule.value {
		case formatName:
			v, lit := literalText(value)
			if !lit {
				c.refuse(value, "the value of -f must be a format name, not a placeholder")
				continue
			}
			fmtNext = pending{format: v, word: value}
		case inputFile:
			c.pos = i
			c.checkInput(value, fmtNext)
			fmtNext = pending{}
		case attachFile:
			if alias, ok := value.IsPlaceholder(); !ok || !c.readable(alias) {
				c.refuse(value, "-attach reads a file: its value must be exactly one input placeholder such as {{in_font}}")
			}
		case outputFile:
			if alias, ok := value.IsPlaceholder(); !ok || !c.outputs[alias] {
				c.refuse(value, "%s writes a file: its value must be exactly one output placeholder such as {{out_segments}}", text)
			} else {
				c.wroteThisStep = append(c.wroteThisStep, alias)
			}
		case filtergraph:
			c.checkGraph(value, false)
		case literalValue:
			v, lit := literalText(value)
			if !lit {
				c.refuse(value, "%s does not take a file: placeholders may only stand after -i, as an output, or as a file option of a filter", text)
				continue
			}
			if why := rule.check(v); why != "" {
				c.refuse(value, "the value %s of %s %s", quoteShort(v), text, why)
			}
		}
	}
	for _, name := range c.wroteThisStep {
		c.written[name] = true
	}
}

// lookupOption finds the rule for an option word such as -c:v:0, refusing
// the forms ffmpeg would read as something else.
func (c *checker) lookupOption(w template.Word, text string) (optionRule, bool) {
	opt := text[1:]
	switch {
	case opt == "-":
		c.refuse(w, `"--" is not allowed: it makes ffmpeg read the next word as an output file name even when it starts with "-"`)
		return optionRule{}, false
	case strings.HasPrefix(opt, "/"):
		c.refuse(w, "%s reads the option's value from a file (ffmpeg's -/option form), which is not allowed; write the value inline", text)
		return optionRule{}, false
	}
	base, spec, hasSpec := strings.Cut(opt, ":")
	if hasSpec && !streamSpecifier.MatchString(spec) {
		c.refuse(w, "%s has a malformed stream specifier %q; write it like -c:v, -b:a:0 or -metadata:s:a:0", text, spec)
		return optionRule{}, false
	}
	if rule, ok := allowedOptions[base]; ok {
		return rule, true
	}
	if why, ok := refusedOptions[base]; ok {
		c.refuse(w, "option -%s is not allowed: it %s", base, why)
		return optionRule{}, false
	}
	c.refuse(w, "option -%s is not on the list of allowed options (it may read or write files, open devices or reach the network); see the README's \"Command validation\" section", base)
	return optionRule{}, false
}

var streamSpecifier = regexp.MustCompile(`^[A-Za-z0-9_#.]+(:[A-Za-z0-9_#.]+)*$`)

// checkInput checks the value of -i.
func (c *checker) checkInput(w template.Word, f pending) {
	if f.format == "lavfi" {
		if _, lit := literalText(w); !lit {
			if _, ok := w.IsPlaceholder(); ok {
				c.refuse(w, "a -f lavfi input is a filtergraph, not a file; drop -f lavfi to read the placeholder's file")
				return
			}
		}
		c.checkGraph(w, true)
		return
	}
	if f.format != "" {
		c.checkFormat(f, allowedDemuxers, "input")
	}
	if alias, ok := w.IsPlaceholder(); ok {
		if !c.readable(alias) {
			if c.outputs[alias] {
				c.refuse(w, "-i {{%s}} reads an output that no earlier command of the chain has written", alias)
			} else {
				c.refuse(w, "-i must be followed by an input placeholder")
			}
		}
		return
	}
	if text, lit := literalText(w); lit && c.chain && c.written[text] {
		c.intermediateAt()
		return
	}
	c.refuse(w, "-i must be followed by exactly one input placeholder such as {{in_video}}; files, URLs, devices and protocols (concat:, file:, pipe:, http://…) cannot be named directly")
}

// readable reports whether a placeholder may be read: a declared input, or
// an output an earlier step of the chain wrote.
func (c *checker) readable(alias string) bool {
	return c.inputs[alias] || c.written[alias]
}

// checkOutput checks a word in an output position.
func (c *checker) checkOutput(w template.Word, f pending) {
	if f.format != "" {
		c.checkFormat(f, allowedMuxers, "output")
	}
	if alias, ok := w.IsPlaceholder(); ok {
		if c.outputs[alias] {
			c.wroteThisStep = append(c.wroteThisStep, alias)
			return
		}
		c.refuse(w, "{{%s}} stands where ffmpeg writes an output; write outputs only to output placeholders ({{out_…}})", alias)
		return
	}
	text, lit := literalText(w)
	switch {
	case lit && text == "-" && f.format == "null":
		return // -f null - discards the output
	case lit && text == "-":
		c.refuse(w, `"-" is standard output; write to an output placeholder, or use -f null - to discard`)
	case lit && c.chain && template.ValidOutputFileName(text) == nil:
		// A chain's intermediate file: a plain name in the work
		// directory that a later step reads back.
		c.wroteThisStep = append(c.wroteThisStep, text)
		c.intermediateAt()
	case lit && strings.HasPrefix(text, "-"):
		c.refuse(w, "%s is not an option ffmpeg knows here", text)
	default:
		c.refuse(w, "%s stands where ffmpeg writes an output; outputs must be exactly one output placeholder such as {{out_video}}; files, URLs and protocols cannot be named directly", quoteShort(w.String()))
	}
}

func (c *checker) checkFormat(f pending, allowed map[string]bool, side string) {
	if allowed[f.format] {
		return
	}
	if why, ok := refusedFormats[f.format]; ok {
		c.refuse(f.word, "format %s is not allowed for an %s: it %s", quoteShort(f.format), side, why)
		return
	}
	c.refuse(f.word, "format %s is not on the list of allowed %s formats", quoteShort(f.format), side)
}

// literalText returns the word's text when it has no placeholder.
func literalText(w template.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w {
		if p.Alias != "" {
			return "", false
		}
		b.WriteString(p.Literal)
	}
	return b.String(), true
}
