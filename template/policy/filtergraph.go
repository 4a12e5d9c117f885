package policy

import (
	"fmt"
	"strings"
)

// Graph is a filtergraph as libavfilter reads it: the argument of -vf, -af,
// -filter, -filter_complex and -lavfi, and the "file name" of a -f lavfi
// input.
type Graph struct {
	// SwsFlags is the value of a leading "sws_flags=…;", if any.
	SwsFlags string
	Filters  []Filter
}

// Filter is one filter of a graph, with both levels of escaping removed.
type Filter struct {
	// Name is the name libavfilter looks up: what is left of the
	// unescaped name token once an "@instance" suffix is cut off.
	Name     string
	Instance string
	Inputs   []string // link labels before the filter, unescaped
	Outputs  []string // link labels after it
	Args     []FilterArg
}

// FilterArg is one argument of a filter. Positional arguments (no key)
// carry their index; libavfilter gives them to the filter's options in
// declaration order ("shorthand").
type FilterArg struct {
	Key      string // "" for a positional argument
	Position int    // index among the positional arguments; -1 when keyed
	Value    string
}

// ParseGraph reads a filtergraph the way FFmpeg 5.1's graphparser.c
// (avfilter_graph_parse2) and avfilter.c (process_options) do:
//
//   - graph level: optional "sws_flags=…;" prefix, then filters separated
//     by ',' (a chain) or ';' (a new chain), each written
//     [in]…name@id=args[out]…; the name, the args and every [label] are
//     av_get_token tokens, so '…' quotes and \ escapes apply;
//   - argument level: args split on ':' into key=value or positional
//     values, each value again an av_get_token token (the second level of
//     quoting and escaping); keys are never unescaped.
//
// Anything ffmpeg itself would refuse to parse is an error here too, so an
// accepted graph means the same thing to the validator and to ffmpeg. When
// a filter's arguments cannot be parsed, the error comes with the filters
// read so far, that one included (without its arguments).
func ParseGraph(s string) (*Graph, error) {
	g := &Graph{}
	rest := strings.TrimLeft(s, whitespaces)
	if strings.HasPrefix(rest, "sws_flags=") {
		end := strings.IndexByte(rest, ';')
		if end < 0 {
			return nil, fmt.Errorf("sws_flags= must end with ';'")
		}
		g.SwsFlags = rest[len("sws_flags="):end]
		rest = rest[end+1:]
	}
	for {
		var f Filter
		var err error
		rest = strings.TrimLeft(rest, whitespaces)
		if f.Inputs, rest, err = parseLabels(rest); err != nil {
			return nil, err
		}
		var name, args string
		name, rest = getToken(rest, "=,;[")
		hasArgs := false
		if strings.HasPrefix(rest, "=") {
			args, rest = getToken(rest[1:], "[],;")
			hasArgs = true
		}
		if f.Name, f.Instance, err = splitInstance(name); err != nil {
			return nil, err
		}
		if hasArgs {
			if f.Args, err = parseFilterArgs(args); err != nil {
				// The graph so far comes back too, so that a refused
				// filter is reported as such even when ffmpeg could not
				// have parsed its arguments either.
				g.Filters = append(g.Filters, Filter{Name: f.Name, Instance: f.Instance, Inputs: f.Inputs})
				return g, fmt.Errorf("filter %s: %w", quoteShort(f.Name), err)
			}
		}
		if f.Outputs, rest, err = parseLabels(rest); err != nil {
			return nil, err
		}
		g.Filters = append(g.Filters, f)
		rest = strings.TrimLeft(rest, whitespaces)
		if rest == "" {
			return g, nil
		}
		if rest[0] != ',' && rest[0] != ';' {
			return nil, fmt.Errorf("unexpected %s after filter %s", quoteShort(rest), quoteShort(f.Name))
		}
		rest = rest[1:]
	}
}

// parseLabels reads a run of [label]s, as parse_inputs and parse_outputs do.
func parseLabels(s string) (labels []string, rest string, err error) {
	rest = s
	for strings.HasPrefix(rest, "[") {
		var label string
		label, rest = getToken(rest[1:], "]")
		if label == "" {
			return nil, "", fmt.Errorf("empty link label in %s", quoteShort(s))
		}
		if !strings.HasPrefix(rest, "]") {
			return nil, "", fmt.Errorf("unclosed '[' in %s", quoteShort(s))
		}
		labels = append(labels, label)
		rest = strings.TrimLeft(rest[1:], whitespaces)
	}
	return labels, rest, nil
}

// splitInstance cuts "name@id" as create_filter does: at the first '@'
// that is not the last byte, looked for only within the first 29 bytes
// (create_filter copies the name into a 30-byte buffer first).
func splitInstance(token string) (name, instance string, err error) {
	if token == "" {
		return "", "", fmt.Errorf("a filter has no name")
	}
	limit := min(len(token), 29)
	for k := 0; k < limit; k++ {
		if token[k] == '@' && k+1 < len(token) {
			if k == 0 {
				return "", "", fmt.Errorf("filter %s has no name before '@'", quoteShort(token))
			}
			return token[:k], token[k+1:], nil
		}
	}
	return token, "", nil
}

// parseFilterArgs splits a filter's argument string as process_options does.
func parseFilterArgs(args string) ([]FilterArg, error) {
	var out []FilterArg
	keyed := false
	position := 0
	for args != "" {
		key, rest, ok := getKey(args)
		var value string
		if ok {
			if key == "" {
				return nil, fmt.Errorf("an argument has an empty option name before '='")
			}
			keyed = true
			value, args = getToken(rest, ":")
			out = append(out, FilterArg{Key: key, Position: -1, Value: value})
		} else {
			if keyed {
				return nil, fmt.Errorf("positional value %s after a key=value argument", quoteShort(args))
			}
			value, args = getToken(args, ":")
			out = append(out, FilterArg{Position: position, Value: value})
			position++
		}
		if args != "" { // skip the ':'
			args = args[1:]
		}
	}
	return out, nil
}

// quoteShort quotes s for a message, cut to a readable length.
func quoteShort(s string) string {
	const limit = 60
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return fmt.Sprintf("%q", s)
}
