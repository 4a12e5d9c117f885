package policy

import (
	"os/exec"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The positional order and aliases of the filters whose options are
// checked by name must be those of the ffmpeg binary in use: if a build
// moved textfile to the first position, "drawtext=/etc/passwd" would read
// a file the validator took for a font. `ffmpeg -h filter=NAME` lists the
// options in declaration order; an alias follows its option with the same
// type and description.
func TestFilterOptionOrderMatchesFFmpeg(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	var names []string
	for name, rule := range allowedFilters {
		if len(rule.positional) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		rule := allowedFilters[name]
		out, err := exec.Command("ffmpeg", "-hide_banner", "-h", "filter="+name).CombinedOutput()
		if err != nil || strings.Contains(string(out), "Unknown filter") {
			t.Logf("%s: not in this ffmpeg build", name)
			continue
		}
		order, aliasOf := ffmpegOptionOrder(string(out))
		if len(order) < len(rule.positional) || !reflect.DeepEqual(order[:len(rule.positional)], rule.positional) {
			t.Errorf("%s: positional order\n got %v\nwant (ffmpeg) %v", name, rule.positional, order)
		}
		for alias, canonical := range rule.aliases {
			if aliasOf[alias] != canonical {
				t.Errorf("%s: alias %s is for %q in ffmpeg, not %q", name, alias, aliasOf[alias], canonical)
			}
		}
	}
}

var optionLine = regexp.MustCompile(`^   (\S+)\s+<(\w+)>\s+\S+\s*(.*)$`)

// ffmpegOptionOrder reads `ffmpeg -h filter=…`: the options in order, one
// per group of aliases, and for every name the first name of its group.
func ffmpegOptionOrder(help string) (order []string, aliasOf map[string]string) {
	aliasOf = map[string]string{}
	var lastKey, lastName string
	for _, line := range strings.Split(help, "\n") {
		m := optionLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := m[2] + "|" + m[3]
		if key == lastKey {
			aliasOf[m[1]] = lastName
			continue
		}
		order = append(order, m[1])
		aliasOf[m[1]] = m[1]
		lastKey, lastName = key, m[1]
	}
	return order, aliasOf
}

// fileLikeOption matches option names that, in some filter, name a file,
// a directory, a model, a plugin or a device.
var fileLikeOption = regexp.MustCompile(`file|path|dir|model|dump|log|font|url|script|db|sofa|plugin|labels|result|shader|device`)

// reviewedOptions are file-like option names of allowed filters that were
// looked at and take no file.
var reviewedOptions = map[string]string{
	"drawtext fontcolor":      "a colour",
	"drawtext fontcolor_expr": "a colour expression",
	"drawtext fontsize":       "a size",
	"drawtext font":           "a fontconfig family name, checked to be a plain name",
	"loudnorm print_format":   "prints to the log",
	"metadata direct":         "a switch for how the declared output file is written",
	"ametadata direct":        "a switch for how the declared output file is written",
	"asubboost feedback":      "a level",
	"stereowiden feedback":    "a level",
	"deband direction":        "an angle",
	"ebur128 framelog":        "a log level for stderr",
	"fieldmatch combdbg":      "a debug mode",
	"transpose dir":           "a direction",
}

// Every option of an allowed filter that looks like it could name a file
// is either checked (readsFile, writesFile), refused, or reviewed above.
// This catches a filter added to the list without a look at its options,
// and a new ffmpeg giving an allowed filter a file option.
func TestAllowedFiltersDeclareTheirFileOptions(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-filters").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	inBuild := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			inBuild[f[1]] = true
		}
	}
	var names []string
	for name := range allowedFilters {
		if !inBuild[name] {
			t.Logf("allowed filter %s is not in this ffmpeg build", name)
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	// One `ffmpeg -h full` has most filters' options, each under a
	// "NAME AVOptions:" header; the rest are asked for one by one.
	full, _ := exec.Command("ffmpeg", "-hide_banner", "-h", "full").CombinedOutput()
	sections := map[string]string{}
	for _, part := range strings.Split(string(full), "\n\n") {
		if header, body, ok := strings.Cut(part, " AVOptions:\n"); ok && !strings.Contains(header, "\n") {
			sections[header] = body
		}
	}
	for _, name := range names {
		if _, refused := refusedFilters[name]; refused {
			t.Errorf("%s is both allowed and refused", name)
		}
		rule := allowedFilters[name]
		help, ok := sections[name]
		if !ok {
			out, _ := exec.Command("ffmpeg", "-hide_banner", "-h", "filter="+name).CombinedOutput()
			help = string(out)
		}
		_, aliasOf := ffmpegOptionOrder(help)
		if name == "drawtext" && aliasOf["textfile"] == "" {
			t.Fatalf("could not read drawtext's options from ffmpeg's help:\n%s", help)
		}
		for opt, canonical := range aliasOf {
			if !fileLikeOption.MatchString(opt) {
				continue
			}
			if declared(rule, name, opt, canonical) {
				continue
			}
			t.Errorf("filter %s has option %s (%s): check it (readsFile, writesFile, refused) or add it to reviewedOptions", name, opt, canonical)
		}
		// Names alone miss some (paletteuse's debug_kdtree writes a
		// Graphviz file): every string option whose help mentions a file
		// or a path must be declared too.
		for _, m := range stringOptionHelp.FindAllStringSubmatch(help, -1) {
			opt, desc := m[1], m[2]
			if !fileLikeHelp.MatchString(desc) {
				continue
			}
			canonical := opt
			if c, ok := aliasOf[opt]; ok && c != "" {
				canonical = c
			}
			if declared(rule, name, opt, canonical) {
				continue
			}
			t.Errorf("filter %s has string option %s whose help says %q: check it (readsFile, writesFile, refused) or add it to reviewedOptions", name, opt, desc)
		}
	}
}

// declared reports whether a filter's file-like option opt (canonical
// name canonical) is handled: read or written through a placeholder,
// refused, or reviewed as taking no file.
func declared(rule filterRule, filter, opt, canonical string) bool {
	if contains(rule.readsFile, canonical) || contains(rule.writesFile, canonical) {
		return true
	}
	if _, ok := rule.refused[canonical]; ok {
		return true
	}
	_, ok := reviewedOptions[filter+" "+opt]
	return ok
}

// stringOptionHelp matches a string-typed option line of ffmpeg's help:
// its name and its description.
var stringOptionHelp = regexp.MustCompile(`(?m)^\s+(\S+)\s+<string>\s+\S+\s+(.*)$`)

// fileLikeHelp is what a description says when the option names a file.
var fileLikeHelp = regexp.MustCompile(`(?i)\b(file|files|filename|path|directory|folder|graphviz|save|dump|load|url)\b`)
