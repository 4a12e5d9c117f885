package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/openrender/openrender/client"
)

const runSynopsis = `openrender run [flags] "FFMPEG COMMAND"

  openrender run --input in_video=https://example.com/in.mp4 --output out_video=small.mp4 \
    "-i {{in_video}} -vf scale=640:-2 {{out_video}}" --wait --download .

An --input value that is not a URL is a local file: it is uploaded first and
its storage_url used. Without --wait the command id is printed and the
command runs on; with --wait a progress bar (on a terminal; plain lines
otherwise) follows it to its end.`

// waitPollInterval caps the CLI's polling while it waits: a person watching
// a progress bar wants it to move.
const waitPollInterval = 2 * time.Second

// runVerb: openrender run
func runVerb(args []string) int {
	var (
		cf          clientFlags
		inputs      keyValues
		outputs     keyValues
		metadata    keyValues
		webhookURL  string
		maxSeconds  float64
		wait        bool
		downloadDir string
	)
	fs := newFlagSet("run", runSynopsis)
	cf.define(fs)
	fs.Var(&inputs, "input", "an input `in_ALIAS=URL` or in_ALIAS=PATH of a local file (repeatable)")
	fs.Var(&outputs, "output", "an output `out_ALIAS=NAME` (repeatable)")
	fs.Var(&metadata, "metadata", "a metadata `KEY=VALUE`, kept with the command (repeatable)")
	fs.StringVar(&webhookURL, "webhook-url", "", "POST the finished command to this URL")
	fs.Float64Var(&maxSeconds, "max-seconds", 0, "fail the command with TIMEOUT past this many seconds (0: the server's default)")
	fs.BoolVar(&wait, "wait", false, "wait until the command finishes")
	fs.StringVar(&downloadDir, "download", "", "wait, then download the outputs into this `DIR`")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(fs, err)
	}
	if len(pos) != 1 {
		return usageError(fs, fmt.Errorf("give the ffmpeg command as one quoted argument (got %d arguments)", len(pos)))
	}
	if len(outputs.keys) == 0 {
		return usageError(fs, errors.New("give at least one --output out_ALIAS=NAME"))
	}
	wait = wait || downloadDir != ""
	c, err := cf.client(client.WithPollInterval(client.DefaultPollInterval, waitPollInterval))
	if err != nil {
		return usageError(fs, err)
	}
	ctx, stop := signalContext()
	defer stop()

	req := client.RunRequest{
		InputFiles: map[string]string{}, OutputFiles: outputs.m, FFmpegCommand: pos[0],
		WebhookURL: webhookURL, MaxCommandRunSeconds: maxSeconds,
	}
	for _, alias := range inputs.keys {
		v := inputs.m[alias]
		if strings.Contains(v, "://") {
			req.InputFiles[alias] = v
			continue
		}
		if _, err := os.Stat(v); err != nil {
			return usageError(fs, fmt.Errorf("--input %s=%s is neither a URL nor a readable file: %v", alias, v, err))
		}
		f, err := uploadPath(ctx, c, v)
		if err != nil {
			return failure(fmt.Errorf("uploading %s: %w", v, err))
		}
		if f.StorageURL == nil {
			fmt.Fprintf(os.Stderr, "openrender: %s was not stored: %s\n", v, fileError(f.ErrorStatus, f.ErrorMessage))
			return exitFailed
		}
		req.InputFiles[alias] = *f.StorageURL
	}
	if len(metadata.keys) > 0 {
		req.Metadata = map[string]any{}
		for k, v := range metadata.m {
			req.Metadata[k] = v
		}
	}

	id, err := c.RunFFmpegCommand(ctx, req)
	if err != nil {
		return failure(err)
	}
	if !wait {
		if cf.json {
			printJSON(map[string]string{"command_id": id})
		} else {
			fmt.Println(id)
		}
		return exitOK
	}

	bar := newProgressView(os.Stderr, id)
	cmd, err := c.WaitForCommand(ctx, id, client.OnUpdate(bar.update))
	bar.done()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "openrender: stopped waiting; command %s runs on (openrender status %s)\n", id, id)
		}
		return failure(err)
	}
	var downloaded map[string]string
	if cmd.Status == client.StatusSuccess && downloadDir != "" {
		if downloaded, err = download(ctx, c, cmd, downloadDir); err != nil {
			return failure(err)
		}
	}
	if cf.json {
		printJSON(cmd)
	} else {
		printCommand(os.Stdout, cmd, downloaded)
	}
	if err := cmd.Err(); err != nil {
		return failure(err)
	}
	return exitOK
}

// download writes every stored output of cmd into dir under its file name
// and returns the paths by alias. Each file is written to a temporary name
// first, so a half-downloaded file never has the final name.
func download(ctx context.Context, c *client.Client, cmd *client.Command, dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	taken := map[string]string{}
	for _, alias := range sortedKeys(cmd.OutputFiles) {
		out := cmd.OutputFiles[alias]
		if out.StorageURL == nil {
			continue
		}
		// The server checks names, but a client trusts no server with
		// paths: only a plain name is written, once, inside dir.
		name := out.FileName
		if !safeFileName(name) {
			return nil, fmt.Errorf("output %s has an unsafe file name %q: not downloaded", alias, name)
		}
		if other, dup := taken[name]; dup {
			return nil, fmt.Errorf("outputs %s and %s have the same file name %q: not downloaded", other, alias, name)
		}
		taken[name] = alias
		path := filepath.Join(dir, name)
		tmp, err := os.CreateTemp(dir, "."+name+".*.part")
		if err != nil {
			return nil, err
		}
		_, err = c.Download(ctx, *out.StorageURL, tmp)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("downloading %s: %w", alias, err)
		}
		paths[alias] = path
	}
	return paths, nil
}

// safeFileName reports whether name is a plain file name, as the contract
// allows output names to be: no directory part (either slash), not "." or
// "..", not hidden, no control characters.
func safeFileName(name string) bool {
	if name == "" || len(name) > 255 || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return filepath.Base(name) == name && filepath.IsLocal(name)
}

// progressView shows a waiting command: on a terminal, one line redrawn in
// place with a bar (from the server's progress when it reports one);
// otherwise a plain line per change of status or per tenth of progress.
type progressView struct {
	w        io.Writer
	id       string
	tty      bool
	start    time.Time
	lastLine string
	drawn    bool
}

func newProgressView(w *os.File, id string) *progressView {
	return &progressView{w: w, id: id, tty: term.IsTerminal(int(w.Fd())), start: time.Now()}
}

const barWidth = 30

func (p *progressView) update(cmd *client.Command) {
	if p.tty {
		line := p.ttyLine(cmd)
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	line := cmd.Status
	if cmd.Progress != nil && cmd.Status == client.StatusProcessing {
		line += fmt.Sprintf(" %d%%", int(*cmd.Progress)/10*10)
	}
	if line != p.lastLine {
		p.lastLine = line
		fmt.Fprintf(p.w, "%s %s\n", p.id, line)
	}
}

func (p *progressView) ttyLine(cmd *client.Command) string {
	elapsed := time.Since(p.start).Truncate(time.Second)
	var pct float64
	switch {
	case cmd.Status == client.StatusSuccess:
		pct = 100
	case cmd.Progress != nil:
		pct = min(max(*cmd.Progress, 0), 100)
	}
	filled := int(pct / 100 * barWidth)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled)
	line := fmt.Sprintf("%s %3.0f%%  %-10s %s", bar, pct, cmd.Status, elapsed)
	if cmd.ETASeconds != nil && !cmd.Done() {
		line += "  eta " + (time.Duration(*cmd.ETASeconds) * time.Second).String()
	}
	if cmd.Progress == nil && !cmd.Done() {
		// No progress from this server: the bar stays empty, the clock runs.
		line = fmt.Sprintf("%-10s %s", cmd.Status, elapsed)
	}
	return line
}

// done ends the line a terminal view was redrawing.
func (p *progressView) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
