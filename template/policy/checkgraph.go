package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/openrender/openrender/template"
)

// Placeholders inside a filtergraph are checked in place: the word is
// turned into text with each placeholder replaced by a sentinel,
// placeholderStart + alias + placeholderEnd, and the text is parsed with
// ffmpeg's rules. The sentinel bytes are control characters, which Lex
// refuses in commands, so they can only come from a placeholder; and they
// are neither separators nor quotes at either level of filtergraph syntax,
// so the sentinel survives parsing intact. A filter argument whose
// unescaped value is exactly one sentinel is a file option pointing at a
// placeholder; a sentinel anywhere else (in a filter name, a label, part
// of a value) is refused. This is sound because the engine substitutes
// paths made only of [A-Za-z0-9_./-], which are as inert as the sentinel
// wherever a whole value can stand: the substituted graph parses the same.
const (
	placeholderStart = "\x01"
	placeholderEnd   = "\x02"
)

var wholePlaceholder = regexp.MustCompile("^\x01([A-Za-z0-9_]+)\x02$")

func graphText(w template.Word) string {
	var b strings.Builder
	for _, p := range w {
		if p.Alias != "" {
			b.WriteString(placeholderStart + p.Alias + placeholderEnd)
		} else {
			b.WriteString(p.Literal)
		}
	}
	return b.String()
}

// shown turns sentinels back into {{alias}} for messages.
func shown(s string) string {
	s = strings.ReplaceAll(s, placeholderStart, "{{")
	return quoteShort(strings.ReplaceAll(s, placeholderEnd, "}}"))
}

var (
	linkLabel    = regexp.MustCompile(`^[A-Za-z0-9_:.?]+$`)
	instanceName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	fontPattern  = regexp.MustCompile(`^[A-Za-z0-9 _.,-]+$`)
	optionKey    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	swsFlags     = regexp.MustCompile(`^[a-z_+|-]+$`)
)

// checkGraph checks a filtergraph word. lavfiInput is true for the value
// of -i after -f lavfi.
func (c *checker) checkGraph(w template.Word, lavfiInput bool) {
	g, err := ParseGraph(graphText(w))
	if err != nil {
		if g != nil {
			for _, f := range g.Filters {
				if why := c.filterNameProblem(f.Name); why != "" {
					c.refuse(w, "%s", why)
					return
				}
			}
		}
		c.refuse(w, "the filtergraph cannot be parsed: %s", strings.NewReplacer(placeholderStart, "{{", placeholderEnd, "}}").Replace(err.Error()))
		return
	}
	if g.SwsFlags != "" && !swsFlags.MatchString(g.SwsFlags) {
		c.refuse(w, "sws_flags %s is not a list of scaler flags", shown(g.SwsFlags))
	}
	for _, f := range g.Filters {
		if why := c.filterProblem(f); why != "" {
			c.refuse(w, "%s", why)
		}
	}
}

// filterNameProblem explains why a filter name is refused, or returns "".
func (c *checker) filterNameProblem(name string) string {
	if strings.Contains(name, placeholderStart) {
		return fmt.Sprintf("filter name %s is a placeholder; placeholders may only be the whole value of a filter's file option", shown(name))
	}
	if _, ok := allowedFilters[name]; ok {
		return ""
	}
	if why, known := refusedFilters[name]; known {
		return fmt.Sprintf("filter %s is not allowed: it %s", shown(name), why)
	}
	return fmt.Sprintf("filter %s is not on the list of allowed filters", shown(name))
}

func (c *checker) filterProblem(f Filter) string {
	if why := c.filterNameProblem(f.Name); why != "" {
		return why
	}
	rule := allowedFilters[f.Name]
	if f.Instance != "" && !instanceName.MatchString(f.Instance) {
		return fmt.Sprintf("filter instance name %s may only use letters, digits and _", shown(f.Instance))
	}
	for _, l := range append(append([]string{}, f.Inputs...), f.Outputs...) {
		if !linkLabel.MatchString(l) {
			return fmt.Sprintf("link label [%s] of filter %s may only use letters, digits and _ : . ?", shown(l), f.Name)
		}
	}
	hasDuration := false
	for _, a := range f.Args {
		if a.Key != "" && !optionKey.MatchString(a.Key) {
			// Keys may hold '/' and '.' as far as the parser goes; no
			// option is named so, and FFmpeg 7 reads "/key=path" as "load
			// key's value from path".
			return fmt.Sprintf("option name %s of filter %s is not an option name (a leading / would load the value from a file)", shown(a.Key), f.Name)
		}
		opt := a.Key
		if opt == "" && a.Position < len(rule.positional) {
			opt = rule.positional[a.Position]
		}
		if canonical, ok := rule.aliases[opt]; ok {
			opt = canonical
		}
		shownOpt := opt
		if shownOpt == "" {
			shownOpt = fmt.Sprintf("argument %d", a.Position+1)
		}
		if why := c.argProblem(f.Name, rule, opt, shownOpt, a.Value); why != "" {
			return why
		}
		if opt == "duration" {
			hasDuration = true
		}
	}
	if rule.source && !hasDuration {
		return fmt.Sprintf("generated source %s needs a duration (for example %s=d=5) so that it ends", f.Name, f.Name)
	}
	return ""
}

// argProblem checks one argument of an allowed filter; opt is its
// canonical option name ("" when positional beyond the known ones).
func (c *checker) argProblem(filter string, rule filterRule, opt, shownOpt, value string) string {
	if contains(rule.readsFile, opt) {
		alias, ok := placeholderIn(value)
		if !ok || !c.readable(alias) {
			return fmt.Sprintf("%s of filter %s reads a file: its value must be exactly one input placeholder such as {{in_subs}}, not %s", shownOpt, filter, shown(value))
		}
		return ""
	}
	if contains(rule.writesFile, opt) {
		alias, ok := placeholderIn(value)
		if !ok || !c.outputs[alias] {
			return fmt.Sprintf("%s of filter %s writes a file: its value must be exactly one output placeholder such as {{out_stats}}, not %s", shownOpt, filter, shown(value))
		}
		c.wroteThisStep = append(c.wroteThisStep, alias)
		return ""
	}
	if strings.Contains(value, placeholderStart) {
		return fmt.Sprintf("%s of filter %s holds a placeholder (%s); placeholders may only be the whole value of a filter's file option", shownOpt, filter, shown(value))
	}
	if why, ok := rule.refused[opt]; ok {
		return fmt.Sprintf("%s of filter %s is not allowed: it %s", shownOpt, filter, why)
	}
	if filter == "drawtext" && opt == "font" && !fontPattern.MatchString(value) {
		return fmt.Sprintf("font of filter drawtext must be a plain font family name such as Sans, not %s", shown(value))
	}
	if contains(rule.dimensions, opt) && numberAbove(value, MaxDimension) {
		return fmt.Sprintf("%s=%s of filter %s is larger than %d pixels", shownOpt, shown(value), filter, MaxDimension)
	}
	if rule.loops {
		switch opt {
		case "loop":
			if !wholeNumberIn(value, 0, MaxLoops) {
				return fmt.Sprintf("loop=%s of filter %s must be a whole number from 0 to %d (-1, looping forever, is not allowed)", shown(value), filter, MaxLoops)
			}
		case "size":
			if !wholeNumberIn(value, 0, 32767) {
				return fmt.Sprintf("size=%s of filter %s must be a whole number from 0 to 32767", shown(value), filter)
			}
		}
	}
	if rule.source {
		switch opt {
		case "duration":
			d, ok := parseDuration(value)
			if !ok || d <= 0 || d > MaxSourceSeconds {
				return fmt.Sprintf("duration=%s of generated source %s must be a time above 0 and at most %d seconds", shown(value), filter, MaxSourceSeconds)
			}
		case "size":
			if why := sizeProblem(value); why != "" {
				return fmt.Sprintf("size=%s of generated source %s %s", shown(value), filter, why)
			}
		case "rate":
			// A plain rate only: ffmpeg evaluates expressions here, and
			// "1000000*1" would slip past a bound on numbers.
			if why := frameRate(value); why != "" {
				return fmt.Sprintf("rate=%s of generated source %s %s", shown(value), filter, why)
			}
		case "sample_rate":
			if !wholeNumberIn(value, 1, MaxSampleRate) {
				return fmt.Sprintf("sample_rate=%s of generated source %s must be a whole number from 1 to %d", shown(value), filter, MaxSampleRate)
			}
		}
	}
	return ""
}

func placeholderIn(value string) (alias string, ok bool) {
	m := wholePlaceholder.FindStringSubmatch(value)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s && s != "" {
			return true
		}
	}
	return false
}
