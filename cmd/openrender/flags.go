package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// envName is the environment variable that sets a flag: OPENRENDER_ and the
// flag's name in upper case with dashes as underscores.
func envName(flagName string) string {
	return "OPENRENDER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseWithEnv parses args, then sets every flag the command line left
// alone from its environment variable. The command line wins.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok || set[f.Name] || err != nil {
			return
		}
		if list, isList := f.Value.(*stringList); isList {
			// A repeatable flag takes a comma- or space-separated list.
			for _, item := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
				list.Set(item)
			}
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
		}
	})
	return err
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// durationList is a comma-separated list of durations ("0,5s,5m").
type durationList []time.Duration

func (l *durationList) String() string {
	parts := make([]string, len(*l))
	for i, d := range *l {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

func (l *durationList) Set(v string) error {
	var out durationList
	for _, part := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return err
		}
		if d < 0 {
			return fmt.Errorf("%s is negative", part)
		}
		out = append(out, d)
	}
	*l = out
	return nil
}
