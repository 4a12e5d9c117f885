package main

// The client verbs: run, status, list and files upload talk to a running
// server through package client, with OPENRENDER_URL and
// OPENRENDER_API_KEY (or --url and --api-key) saying which.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
)

// Exit codes of the client verbs, beside exitOK, exitError and exitUsage.
const (
	// exitFailed: the command ran and ended FAILED.
	exitFailed = 3
	// exitRejected: the server refused the request (4xx: a validation
	// error, a wrong key, an unknown id).
	exitRejected = 4
)

const clientExitCodes = `Exit codes: 0 success; 1 error (network, server, files); 2 usage error;
3 the command FAILED; 4 the server refused the request (invalid, wrong key, unknown id).`

// clientFlags are the flags every client verb takes.
type clientFlags struct {
	url, apiKey string
	json        bool
}

func (f *clientFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "the server's base `URL`, such as http://127.0.0.1:8080 (env OPENRENDER_URL)")
	fs.StringVar(&f.apiKey, "api-key", "", "the API key (env OPENRENDER_API_KEY)")
	fs.BoolVar(&f.json, "json", false, "print JSON for scripts instead of text")
}

// client returns a client for the flags, the environment filling in what
// the command line left out.
func (f *clientFlags) client(opts ...client.Option) (*client.Client, error) {
	if f.url == "" {
		f.url = os.Getenv("OPENRENDER_URL")
	}
	if f.url == "" {
		// No silent default: a client talking to whatever listens on a
		// guessed address would send the API key there.
		return nil, errors.New("no server: set OPENRENDER_URL or pass --url (openrender serve listens on http://127.0.0.1:8080 by default)")
	}
	if u, err := url.Parse(f.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the server URL %q is not an http:// or https:// URL", f.url)
	}
	if f.apiKey == "" {
		f.apiKey = os.Getenv("OPENRENDER_API_KEY")
	}
	if f.apiKey == "" {
		return nil, errors.New("no API key: set OPENRENDER_API_KEY or pass --api-key")
	}
	opts = append([]client.Option{client.WithUserAgent("openrender-cli/" + version)}, opts...)
	return client.New(f.url, f.apiKey, opts...), nil
}

// parseInterleaved parses flags that may come before or after the
// positional arguments, as in `run --input ... "-i {{in}} ..." --wait`.
// An ffmpeg command starts with '-' too, so an argument is a flag only if
// it names one of fs's flags; any other argument beginning with '-' that
// has no space in it is an unknown flag. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) (positional []string, err error) {
	var flagArgs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || strings.ContainsAny(a, " \t\n") {
			positional = append(positional, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil {
			if name == "h" || name == "help" {
				return nil, fs.Parse([]string{a})
			}
			return nil, fmt.Errorf("flag provided but not defined: %s", a)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); hasValue || (ok && b.IsBoolFlag()) {
			flagArgs = append(flagArgs, a)
			continue
		}
		if i+1 == len(args) {
			return nil, fmt.Errorf("flag needs an argument: %s", a)
		}
		// Joined with '=', so a value that starts with '-' stays a value.
		i++
		flagArgs = append(flagArgs, "--"+name+"="+args[i])
	}
	return positional, fs.Parse(flagArgs)
}

// newFlagSet makes a verb's flag set whose usage shows synopsis.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("openrender "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(os.Stderr, "\n%s\n", clientExitCodes)
	}
	return fs
}

// usageError reports a usage problem and returns exitUsage.
func usageError(fs *flag.FlagSet, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", fs.Name(), err)
	fs.Usage()
	return exitUsage
}

// failure prints err on stderr and returns its exit code.
func failure(err error) int {
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		msg := fmt.Sprintf("openrender: the server answered %d", apiErr.StatusCode)
		if apiErr.Code != "" {
			msg += " " + apiErr.Code
		}
		fmt.Fprintf(os.Stderr, "%s: %s\n", msg, apiErr.Message)
		for _, d := range apiErr.Detail {
			fmt.Fprintf(os.Stderr, "  %s: %s\n", joinLoc(d.Loc), d.Msg)
		}
		if apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 {
			return exitRejected
		}
		return exitError
	}
	var cmdErr *client.CommandError
	if errors.As(err, &cmdErr) {
		fmt.Fprintln(os.Stderr, err)
		return exitFailed
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "openrender: interrupted")
		return exitError
	}
	fmt.Fprintln(os.Stderr, "openrender:", err)
	return exitError
}

func joinLoc(loc []any) string {
	parts := make([]string, len(loc))
	for i, p := range loc {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

// printJSON writes v to stdout, indented.
func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// signalContext is cancelled by Ctrl-C or SIGTERM, so a wait ends cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// keyValues is a repeatable KEY=VALUE flag.
type keyValues struct {
	keys []string
	m    map[string]string
}

func (kv *keyValues) String() string { return strings.Join(kv.keys, ",") }

func (kv *keyValues) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	if kv.m == nil {
		kv.m = map[string]string{}
	}
	if _, dup := kv.m[k]; dup {
		return fmt.Errorf("%s is given twice", k)
	}
	kv.keys = append(kv.keys, k)
	kv.m[k] = val
	return nil
}

// statusVerb: openrender status ID
func statusVerb(args []string) int {
	var cf clientFlags
	fs := newFlagSet("status", "openrender status [--json] COMMAND_ID")
	cf.define(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(fs, err)
	}
	if len(pos) != 1 {
		return usageError(fs, errors.New("give one command id"))
	}
	c, err := cf.client()
	if err != nil {
		return usageError(fs, err)
	}
	ctx, stop := signalContext()
	defer stop()
	cmd, err := c.GetCommand(ctx, pos[0])
	if err != nil {
		return failure(err)
	}
	if cf.json {
		printJSON(cmd)
	} else {
		printCommand(os.Stdout, cmd, nil)
	}
	if cmd.Status == client.StatusFailed {
		return exitFailed
	}
	return exitOK
}

// printCommand writes a command as text; downloaded maps aliases to the
// local paths their files were written to.
func printCommand(w io.Writer, cmd *client.Command, downloaded map[string]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "command\t%s\n", cmd.CommandID)
	fmt.Fprintf(tw, "status\t%s\n", cmd.Status)
	if cmd.CommandType != "" {
		fmt.Fprintf(tw, "type\t%s\n", cmd.CommandType)
	}
	fmt.Fprintf(tw, "created\t%s\n", time.Time(cmd.CreatedAt).UTC().Format(time.RFC3339))
	if cmd.Progress != nil && !cmd.Done() {
		fmt.Fprintf(tw, "progress\t%.0f%%\n", *cmd.Progress)
	}
	if cmd.TotalProcessingSeconds != nil {
		fmt.Fprintf(tw, "took\t%.2f s\n", *cmd.TotalProcessingSeconds)
	}
	if cmd.ErrorStatus != "" {
		fmt.Fprintf(tw, "error\t%s: %s\n", cmd.ErrorStatus, oneLine(cmd.ErrorMessage))
	}
	for _, alias := range sortedKeys(cmd.OutputFiles) {
		out := cmd.OutputFiles[alias]
		where := "-"
		switch {
		case downloaded[alias] != "":
			where = downloaded[alias]
		case out.StorageURL != nil:
			where = *out.StorageURL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", alias, out.FileName, out.Status, where)
	}
	tw.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// listVerb: openrender list
func listVerb(args []string) int {
	var cf clientFlags
	var o client.ListCommandsOptions
	fs := newFlagSet("list", "openrender list [--status S] [--limit N] [--offset N] [--json]")
	cf.define(fs)
	fs.StringVar(&o.Status, "status", "", "only commands in this status: QUEUED, PROCESSING, SUCCESS or FAILED")
	fs.IntVar(&o.Limit, "limit", 20, "how many commands, newest first (at most 100)")
	fs.IntVar(&o.Offset, "offset", 0, "how many of the newest to skip")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(fs, err)
	}
	if len(pos) != 0 {
		return usageError(fs, fmt.Errorf("unexpected argument %q", pos[0]))
	}
	o.Status = strings.ToUpper(o.Status)
	c, err := cf.client()
	if err != nil {
		return usageError(fs, err)
	}
	ctx, stop := signalContext()
	defer stop()
	list, err := c.ListCommands(ctx, o)
	if err != nil {
		return failure(err)
	}
	if cf.json {
		printJSON(list)
		return exitOK
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMAND\tSTATUS\tTYPE\tCREATED\tERROR")
	for _, cmd := range list.Commands {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cmd.CommandID, cmd.Status, cmd.CommandType,
			time.Time(cmd.CreatedAt).UTC().Format(time.RFC3339), cmd.ErrorStatus)
	}
	tw.Flush()
	return exitOK
}

// filesVerb: openrender files upload PATH
func filesVerb(args []string) int {
	if len(args) == 0 || args[0] != "upload" {
		fmt.Fprintf(os.Stderr, "usage: openrender files upload [--json] PATH\n\n%s\n", clientExitCodes)
		return exitUsage
	}
	var cf clientFlags
	fs := newFlagSet("files upload", "openrender files upload [--json] PATH")
	cf.define(fs)
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return usageError(fs, err)
	}
	if len(pos) != 1 {
		return usageError(fs, errors.New("give one file path"))
	}
	c, err := cf.client()
	if err != nil {
		return usageError(fs, err)
	}
	ctx, stop := signalContext()
	defer stop()
	f, err := uploadPath(ctx, c, pos[0])
	if err != nil {
		return failure(err)
	}
	if cf.json {
		printJSON(f)
	} else {
		url := "-"
		if f.StorageURL != nil {
			url = *f.StorageURL
		}
		fmt.Printf("%s\t%s\t%s\n", f.FileID, f.Status, url)
	}
	if f.Status != client.FileStored {
		fmt.Fprintf(os.Stderr, "openrender: %s was not stored: %s\n", pos[0], fileError(f.ErrorStatus, f.ErrorMessage))
		return exitFailed
	}
	return exitOK
}

func fileError(status, msg *string) string {
	var s string
	if status != nil {
		s = *status
	}
	if msg != nil {
		s += ": " + *msg
	}
	return s
}

// uploadPath streams a local file to the server and returns its record.
func uploadPath(ctx context.Context, c *client.Client, path string) (*api.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	id, err := c.UploadFile(ctx, filepath.Base(path), f)
	if err != nil {
		return nil, err
	}
	return c.WaitForFile(ctx, id)
}
