package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
)

// clientEnv points the client verbs at s.
func clientEnv(s *server) []string {
	return []string{"OPENRENDER_URL=" + s.url, "OPENRENDER_API_KEY=" + s.key}
}

// The client verbs against a live server: run --wait --download writes a
// real media file, status, list and --json agree, files upload stores a
// file, and a local --input is uploaded first.
func TestCLIClientVerbs(t *testing.T) {
	t.Parallel()
	mediaDir := t.TempDir()
	clip := testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 2, Size: "160x120", Audio: true})
	inURL := testutil.ServeDir(t, mediaDir).URL + "/in.mp4"
	s := startServer(t, serverOptions{dataDir: t.TempDir(), key: engine.NewAPIKey()})
	env := clientEnv(s)

	dl := filepath.Join(t.TempDir(), "downloads")
	r := runCLI(t, env, "run", "--input", "in_video="+inURL, "--output", "out_video=a.mp4",
		"-i {{in_video}} -t 1 -c copy {{out_video}}", "--wait", "--download", dl)
	if r.code != 0 {
		t.Fatalf("run --wait --download: exit %d\n%s", r.code, r.stderr)
	}
	out := filepath.Join(dl, "a.mp4")
	probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width", "-of", "csv=p=0", out).CombinedOutput()
	if err != nil || !strings.Contains(string(probe), "video,160") || !strings.Contains(string(probe), "audio") {
		t.Fatalf("ffprobe of the downloaded file: %v\n%s", err, probe)
	}
	if !strings.Contains(r.stdout, out) || !strings.Contains(r.stdout, "SUCCESS") {
		t.Errorf("run's report does not name the status and the downloaded file:\n%s", r.stdout)
	}
	// Not a terminal: plain progress lines on stderr, no control codes.
	if !strings.Contains(r.stderr, " SUCCESS\n") || strings.Contains(r.stderr, "\r") || strings.Contains(r.stderr, "\033") {
		t.Errorf("progress on a non-terminal should be plain lines:\n%q", r.stderr)
	}
	if matches, _ := filepath.Glob(filepath.Join(dl, ".*")); len(matches) != 0 {
		t.Errorf("temporary files left in the download dir: %v", matches)
	}

	// Without --wait: the id alone.
	r = runCLI(t, env, "run", "--output", "out_a=a.wav", "-f lavfi -i sine=duration=0.5 {{out_a}}")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(id) != 36 {
		t.Fatalf("run without --wait: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}

	// --json for scripts, with a --metadata and a local file as input
	// (uploaded first), flags before and after the command.
	r = runCLI(t, env, "run", "--json", "--input", "in_v="+clip, "-i {{in_v}} -frames:v 1 {{out_f}}",
		"--output", "out_f=frame.png", "--metadata", "job=42", "--wait")
	if r.code != 0 {
		t.Fatalf("run --json with a local input: exit %d\n%s", r.code, r.stderr)
	}
	var cmd client.Command
	if err := json.Unmarshal([]byte(r.stdout), &cmd); err != nil || cmd.Status != "SUCCESS" || cmd.Metadata["job"] != "42" {
		t.Fatalf("run --json printed %q (%v)", r.stdout, err)
	}
	if input := string(cmd.OriginalRequest); !strings.Contains(input, "/storage/") {
		t.Errorf("a local input should be sent as its storage_url: %s", input)
	}

	r = runCLI(t, env, "status", id)
	if r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "out_a") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "status", "--json", cmd.CommandID)
	var got api.Command
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil || got.CommandID != cmd.CommandID {
		t.Errorf("status --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	r = runCLI(t, env, "list", "--limit", "2", "--json")
	var page api.CommandList
	if err := json.Unmarshal([]byte(r.stdout), &page); r.code != 0 || err != nil || len(page.Commands) != 2 || page.Commands[0].CommandID != cmd.CommandID {
		t.Errorf("list --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	r = runCLI(t, env, "list")
	if r.code != 0 || strings.Count(r.stdout, "SUCCESS") < 2 || !strings.Contains(r.stdout, id) {
		t.Errorf("list: exit %d\n%s", r.code, r.stdout)
	}

	r = runCLI(t, env, "files", "upload", clip)
	fields := strings.Fields(r.stdout)
	if r.code != 0 || len(fields) != 3 || fields[1] != "STORED" || !strings.Contains(fields[2], "/storage/") {
		t.Errorf("files upload: exit %d, %q\n%s", r.code, r.stdout, r.stderr)
	}

	// Flags override the environment.
	r = runCLI(t, []string{"OPENRENDER_URL=http://127.0.0.1:1", "OPENRENDER_API_KEY=ffsk_wrong"},
		"status", "--url", s.url, "--api-key", s.key, id)
	if r.code != 0 {
		t.Errorf("--url and --api-key over the environment: exit %d\n%s", r.code, r.stderr)
	}
}

// Failures exit non-zero with the reason on stderr, and the exit code
// tells a failed command, a refused request and a usage error apart.
func TestCLIFailures(t *testing.T) {
	t.Parallel()
	mediaDir := t.TempDir()
	testutil.MakeClip(t, mediaDir, "in.mp4", testutil.Clip{Seconds: 1, Size: "160x120"})
	files := testutil.ServeDir(t, mediaDir)
	s := startServer(t, serverOptions{dataDir: t.TempDir(), key: engine.NewAPIKey()})
	env := clientEnv(s)

	// ffmpeg fails at run time (the clip has no audio): exit 3, error_status and message on stderr.
	r := runCLI(t, env, "run", "--input", "in_video="+files.URL+"/in.mp4", "--output", "out_video=a.mp4",
		"-i {{in_video}} -map 0:a {{out_video}}", "--wait")
	if r.code != exitFailed || !strings.Contains(r.stderr, "FFMPEG_FAILED") {
		t.Errorf("a command ffmpeg fails: exit %d, want %d with FFMPEG_FAILED on stderr\n%s", r.code, exitFailed, r.stderr)
	}
	// An input that can't be fetched: exit 3 as well.
	r = runCLI(t, env, "run", "--input", "in_video="+files.URL+"/missing.mp4", "--output", "out_video=a.mp4",
		"-i {{in_video}} {{out_video}}", "--wait", "--json")
	if r.code != exitFailed || !strings.Contains(r.stderr, "UNREACHABLE_INPUT_FILE") || !strings.Contains(r.stdout, `"status": "FAILED"`) {
		t.Errorf("an unreachable input: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	// The server refuses the request: exit 4, the message and the field.
	r = runCLI(t, env, "run", "--output", "out_video=../a.mp4", "-f lavfi -i testsrc {{out_video}}")
	if r.code != exitRejected || !strings.Contains(r.stderr, "VALIDATION_ERROR") || !strings.Contains(r.stderr, "body.output_files.out_video") {
		t.Errorf("an invalid request: exit %d, want %d\n%s", r.code, exitRejected, r.stderr)
	}
	r = runCLI(t, []string{"OPENRENDER_URL=" + s.url, "OPENRENDER_API_KEY=" + engine.NewAPIKey()}, "list")
	if r.code != exitRejected || !strings.Contains(r.stderr, "UNAUTHORIZED") {
		t.Errorf("a wrong key: exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, env, "status", "00000000-0000-0000-0000-000000000000")
	if r.code != exitRejected || !strings.Contains(r.stderr, "NOT_FOUND") {
		t.Errorf("an unknown id: exit %d\n%s", r.code, r.stderr)
	}
	// No server there: exit 1.
	r = runCLI(t, []string{"OPENRENDER_URL=http://127.0.0.1:1", "OPENRENDER_API_KEY=" + s.key}, "list")
	if r.code != exitError || r.stderr == "" {
		t.Errorf("no server: exit %d\n%s", r.code, r.stderr)
	}

	// Usage errors: exit 2 with the usage.
	for _, args := range [][]string{
		{"run", "--output", "out_a=a.wav"},                                                           // no command
		{"run", "-f lavfi -i sine {{out_a}}"},                                                        // no output
		{"run", "--output", "out_a=a.wav", "--bogus", "x"},                                           // unknown flag
		{"run", "--output", "a.wav", "x {{out_a}}"},                                                  // not KEY=VALUE
		{"run", "--input", "in_a=/no/such/file", "--output", "out_a=a.wav", "-i {{in_a}} {{out_a}}"}, // neither URL nor file
		{"status"}, {"status", "a", "b"}, {"files"}, {"files", "upload"}, {"list", "extra"},
	} {
		if r := runCLI(t, env, args...); r.code != exitUsage || !strings.Contains(r.stderr, "usage") {
			t.Errorf("openrender %q: exit %d, want %d with usage\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
	if r := runCLI(t, []string{"OPENRENDER_URL=" + s.url}, "list"); r.code != exitUsage || !strings.Contains(r.stderr, "OPENRENDER_API_KEY") {
		t.Errorf("no key: exit %d\n%s", r.code, r.stderr)
	}
}

// An ffmpeg command starts with '-' too: only the verb's own flags are
// flags, wherever they stand.
func TestParseInterleaved(t *testing.T) {
	for _, c := range []struct {
		args    []string
		wantPos []string
		wantIn  []string
		wait    bool
		err     bool
	}{
		{args: []string{"--input", "in_a=x", "-i {{in_a}} {{out}}", "--wait"}, wantPos: []string{"-i {{in_a}} {{out}}"}, wantIn: []string{"in_a"}, wait: true},
		{args: []string{"-wait", "--input=in_b=-y", "cmd"}, wantPos: []string{"cmd"}, wantIn: []string{"in_b"}, wait: true},
		{args: []string{"--", "--wait"}, wantPos: []string{"--wait"}},
		{args: []string{"-", "x"}, wantPos: []string{"-", "x"}},
		{args: []string{"--nope"}, err: true},
		{args: []string{"--input"}, err: true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		var in keyValues
		wait := fs.Bool("wait", false, "")
		fs.Var(&in, "input", "")
		pos, err := parseInterleaved(fs, c.args)
		if (err != nil) != c.err {
			t.Errorf("%q: error %v", c.args, err)
			continue
		}
		if c.err {
			continue
		}
		if !slices.Equal(pos, c.wantPos) || !slices.Equal(in.keys, c.wantIn) || *wait != c.wait {
			t.Errorf("%q: positional %q, inputs %q, wait %v", c.args, pos, in.keys, *wait)
		}
	}
}

// On a terminal the bar fills from the server's progress; without
// progress the status and the clock show.
func TestProgressLine(t *testing.T) {
	p := &progressView{tty: true}
	half, eta := 50.0, 12.0
	cmd := &client.Command{}
	cmd.Progress, cmd.ETASeconds = &half, &eta
	cmd.Status = client.StatusProcessing
	line := p.ttyLine(cmd)
	if !strings.Contains(line, " 50%") || !strings.Contains(line, "eta 12s") || strings.Count(line, "█") != barWidth/2 {
		t.Errorf("half done: %q", line)
	}
	cmd.Progress, cmd.ETASeconds = nil, nil
	if line := p.ttyLine(cmd); strings.Contains(line, "%") || !strings.Contains(line, "PROCESSING") {
		t.Errorf("no progress: %q", line)
	}
	cmd.Status = client.StatusSuccess
	if line := p.ttyLine(cmd); !strings.Contains(line, "100%") {
		t.Errorf("done: %q", line)
	}

	var b strings.Builder
	plain := &progressView{w: &b, id: "c1"}
	for _, pr := range []float64{1, 5, 12, 19, 25} {
		v := pr
		c := &client.Command{}
		c.Progress = &v
		c.Status = client.StatusProcessing
		plain.update(c)
	}
	if b.String() != "c1 PROCESSING 0%\nc1 PROCESSING 10%\nc1 PROCESSING 20%\n" {
		t.Errorf("plain lines: %q", b.String())
	}
}

// openPTY opens a pseudo-terminal pair: what is written to tty is read
// from pt, and tty is a terminal to whoever holds it.
func openPTY(t *testing.T) (pt, tty *os.File) {
	t.Helper()
	pt, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { pt.Close() })
	if err := unix.IoctlSetPointerInt(int(pt.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(pt.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return pt, tty
}

// On a terminal, --wait redraws one line in place and ends it at 100%.
func TestCLIProgressBarOnATerminal(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{dataDir: t.TempDir(), key: engine.NewAPIKey()})
	pt, tty := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "--output", "out_a=a.wav", "-f lavfi -i sine=duration=0.2 {{out_a}}", "--wait")
	cmd.Env = baseEnv(clientEnv(s)...)
	cmd.Dir = t.TempDir()
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds its own copy
	screen := make(chan string, 1)
	go func() {
		var b strings.Builder
		io.Copy(&b, pt) // ends with EIO once the child closes the terminal
		screen <- b.String()
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run --wait on a terminal: %v\n%s", err, stdout.String())
	}
	var out string
	select {
	case out = <-screen:
	case <-ctx.Done():
		t.Fatal("the terminal output did not end")
	}
	if !strings.Contains(out, "\r\033[K") || !strings.Contains(out, strings.Repeat("█", barWidth)+" 100%  SUCCESS") {
		t.Errorf("terminal output %q: want a line redrawn in place ending in a full bar", out)
	}
}

// A hostile (or broken) server that names outputs with paths can't make
// run --download write outside DIR: the run fails (exit 1) naming the
// unsafe name, and nothing appears beside DIR.
func TestCLIDownloadRefusesUnsafeNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"../../escape.txt", "../escape.txt", "/tmp/abs-escape.txt", "sub/x.txt", `..\escape.txt`,
		"..", ".", ".hidden", "", "a\nb.txt",
	} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			t.Parallel()
			srv := hostileServer(t, map[string]string{"out_a": name})
			root := t.TempDir()
			dir := filepath.Join(root, "a", "b", "dl")
			r := runCLI(t, []string{"OPENRENDER_URL=" + srv, "OPENRENDER_API_KEY=ffsk_x"},
				"run", "--output", "out_a=x.txt", "-f lavfi -i sine {{out_a}}", "--download", dir)
			if r.code != exitError || !strings.Contains(r.stderr, "unsafe file name") {
				t.Errorf("exit %d, want %d naming the unsafe file name\nstderr: %s", r.code, exitError, r.stderr)
			}
			assertOnlyDir(t, root, dir)
			if _, err := os.Stat("/tmp/abs-escape.txt"); err == nil {
				t.Error("an absolute output name was written")
			}
		})
	}
	// Two outputs with one name: neither overwrites the other.
	srv := hostileServer(t, map[string]string{"out_a": "same.txt", "out_b": "same.txt"})
	dir := t.TempDir()
	r := runCLI(t, []string{"OPENRENDER_URL=" + srv, "OPENRENDER_API_KEY=ffsk_x"},
		"run", "--output", "out_a=x.txt", "-f lavfi -i sine {{out_a}}", "--download", dir)
	if r.code != exitError || !strings.Contains(r.stderr, "same file name") {
		t.Errorf("duplicate names: exit %d\n%s", r.code, r.stderr)
	}
	// A safe name from the same server is downloaded: the refusals above
	// are about the names, not the server.
	srv = hostileServer(t, map[string]string{"out_a": "fine.txt"})
	r = runCLI(t, []string{"OPENRENDER_URL=" + srv, "OPENRENDER_API_KEY=ffsk_x"},
		"run", "--output", "out_a=x.txt", "-f lavfi -i sine {{out_a}}", "--download", dir)
	if b, err := os.ReadFile(filepath.Join(dir, "fine.txt")); r.code != 0 || err != nil || string(b) != "payload" {
		t.Errorf("safe name: exit %d, file %q, %v\n%s", r.code, b, err, r.stderr)
	}
}

// hostileServer speaks just enough of the contract for run --download: it
// accepts any command, reports it SUCCESS at once with outputs named as
// names says, and serves "payload" at every storage_url.
func hostileServer(t *testing.T, names map[string]string) string {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	base := "http://" + srv.Listener.Addr().String()
	mux.HandleFunc("POST /api/v1/run-ffmpeg-command", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"command_id":"c1"}`)
	})
	mux.HandleFunc("GET /api/v1/commands/c1", func(w http.ResponseWriter, r *http.Request) {
		outs := map[string]any{}
		for alias, name := range names {
			outs[alias] = map[string]any{"file_id": alias, "filename": name, "status": "STORED",
				"storage_url": base + "/bytes/" + alias}
		}
		json.NewEncoder(w).Encode(map[string]any{"command_id": "c1", "status": "SUCCESS",
			"command_type": "FFMPEG_COMMAND", "output_files": outs})
	})
	mux.HandleFunc("GET /bytes/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "payload") })
	srv.Start()
	t.Cleanup(srv.Close)
	return base
}

// assertOnlyDir fails if anything but the (empty, or absent) dir and its
// parents exists under root.
func assertOnlyDir(t *testing.T, root, dir string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		if !d.IsDir() {
			t.Errorf("%s was written", p)
		} else if rel, _ := filepath.Rel(p, dir); !filepath.IsLocal(rel) && rel != "." {
			t.Errorf("directory %s was made", p)
		}
		return nil
	})
}

// Without OPENRENDER_URL (or --url) the client verbs refuse to guess a
// server: a usage error naming the variable, the key never sent.
func TestCLINoServerURL(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"list"}, {"status", "x"}, {"run", "--output", "out_a=a.wav", "-f lavfi -i sine {{out_a}}"}, {"files", "upload", "x"}} {
		r := runCLI(t, []string{"OPENRENDER_API_KEY=ffsk_x"}, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "OPENRENDER_URL") || !strings.Contains(r.stderr, "usage") {
			t.Errorf("openrender %q without a URL: exit %d, want %d naming OPENRENDER_URL\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
	r := runCLI(t, []string{"OPENRENDER_URL=127.0.0.1:8080", "OPENRENDER_API_KEY=ffsk_x"}, "list")
	if r.code != exitUsage || !strings.Contains(r.stderr, "not an http") {
		t.Errorf("a URL without a scheme: exit %d\n%s", r.code, r.stderr)
	}
}
