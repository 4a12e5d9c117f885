package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
)

// createKey runs `openrender keys create` and returns the key it prints.
func createKey(t *testing.T, account, dataDir string) string {
	t.Helper()
	r := runCLI(t, nil, "keys", "create", "--account", account, "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("keys create: exit %d\n%s", r.code, r.stderr)
	}
	key := strings.TrimSpace(r.stdout)
	if !regexp.MustCompile(`^ffsk_[0-9a-f]{64}$`).MatchString(key) {
		t.Fatalf("keys create printed %q on stdout, want the key alone", r.stdout)
	}
	if !strings.Contains(r.stderr, `"`+account+`"`) {
		t.Errorf("keys create's note does not name account %q: %q", account, r.stderr)
	}
	return key
}

// TestKeysCreate: a key made with `keys create --account` works on a server
// of that data dir, and accounts can't see each other's commands.
func TestKeysCreate(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	otherKey := createKey(t, "other", dataDir)
	defaultKey := engine.NewAPIKey()
	s := startServer(t, serverOptions{dataDir: dataDir, key: defaultKey})

	for name, key := range map[string]string{"default": defaultKey, "other": otherKey} {
		if code := s.listStatus(key); code != http.StatusOK {
			t.Errorf("GET /api/v1/commands?limit=1 with the %s account's key: %d, want 200", name, code)
		}
	}
	if code := s.listStatus(engine.NewAPIKey()); code != http.StatusUnauthorized {
		t.Errorf("an unknown key: %d, want 401", code)
	}

	defaultID := s.submitAs(defaultKey, tinyCommand())
	otherID := s.submitAs(otherKey, tinyCommand())
	for _, c := range []struct {
		who, key, id string
		want         int
	}{
		{"default", defaultKey, defaultID, http.StatusOK},
		{"other", otherKey, otherID, http.StatusOK},
		{"other", otherKey, defaultID, http.StatusNotFound},
		{"default", defaultKey, otherID, http.StatusNotFound},
	} {
		if code, _ := s.getAs(c.key, c.id); code != c.want {
			t.Errorf("the %s account GETs command %s: %d, want %d", c.who, c.id, code, c.want)
		}
	}
	code, body := s.do("GET", "/api/v1/commands", otherKey, nil)
	if code != http.StatusOK || !strings.Contains(string(body), otherID) || strings.Contains(string(body), defaultID) {
		t.Errorf("the other account's list (%d) should hold only its command %s: %s", code, otherID, body)
	}

	// A key made while the server runs works at once: the server reads
	// keys from the shared store on each request.
	thirdKey := createKey(t, "third", dataDir)
	if code := s.listStatus(thirdKey); code != http.StatusOK {
		t.Errorf("a key created while the server runs: %d, want 200", code)
	}
	if code, _ := s.getAs(thirdKey, otherID); code != http.StatusNotFound {
		t.Errorf("a third account GETs another's command: %d, want 404", code)
	}
	s.waitStatus(defaultID, 30*time.Second, "SUCCESS")
	s.stopOK()
}

var bannerDone = regexp.MustCompile(`(?m)^  ffmpeg: .*\n`)
var keyBannerDone = regexp.MustCompile(`(?m)^Try: curl .*\n`)

// distinctKeys returns the different API keys in a text.
func distinctKeys(s string) []string {
	keys := keyPattern.FindAllString(s, -1)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestFirstStartCreatesAndPrintsAKey: with no --api-key and no key stored,
// a server makes a key and prints it once; the next start prints none.
func TestFirstStartCreatesAndPrintsAKey(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s1 := startServer(t, serverOptions{dataDir: dataDir})
	keys := distinctKeys(s1.waitStdout(keyBannerDone, 10*time.Second))
	if len(keys) != 1 {
		t.Fatalf("the first start printed %d keys, want 1\n%s", len(keys), s1.output())
	}
	if keyPattern.MatchString(s1.stderr()) {
		t.Errorf("the key also went to stderr (logs)")
	}
	if code := s1.listStatus(keys[0]); code != http.StatusOK {
		t.Errorf("the printed key: %d, want 200", code)
	}
	if code := s1.listStatus(""); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	s1.stopOK()

	s2 := startServer(t, serverOptions{dataDir: dataDir})
	s2.waitStdout(bannerDone, 10*time.Second)
	if code := s2.listStatus(keys[0]); code != http.StatusOK {
		t.Errorf("the first start's key on the second start: %d, want 200", code)
	}
	s2.stopOK()
	if k := distinctKeys(s2.stdout()); len(k) != 0 {
		t.Errorf("the second start printed keys %v, want none\n%s", k, s2.output())
	}
}

// TestFirstKeyNotLostWhenStartFails: a first start that fails after opening
// the store (here: its port is taken) must not make a key it never shows,
// or the next start, seeing a key, would show none and lock the owner out.
func TestFirstKeyNotLostWhenStartFails(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	r := runCLI(t, nil, "serve", "--addr", taken.Addr().String(), "--data-dir", dataDir)
	if r.code != 1 || !strings.Contains(r.stderr, "address already in use") {
		t.Fatalf("serve on a taken port: exit %d, want 1 naming the address\n%s", r.code, r.stderr)
	}
	if k := distinctKeys(r.stdout + r.stderr); len(k) != 0 {
		t.Fatalf("the failed start printed keys %v", k)
	}

	s := startServer(t, serverOptions{dataDir: dataDir})
	keys := distinctKeys(s.waitStdout(keyBannerDone, 10*time.Second))
	if len(keys) != 1 {
		t.Fatalf("the first successful start printed %d keys, want 1\n%s", len(keys), s.output())
	}
	if code := s.listStatus(keys[0]); code != http.StatusOK {
		t.Errorf("the printed key: %d, want 200", code)
	}
	s.stopOK()
}

// TestFlagsFromEnvironment: OPENRENDER_<FLAG> sets a flag the command line
// leaves alone; the command line wins; a bad value is a usage error that
// names the variable.
func TestFlagsFromEnvironment(t *testing.T) {
	t.Parallel()
	privateInput := map[string]any{
		"input_files":    map[string]string{"in_video": "http://127.0.0.1:9/in.mp4"},
		"output_files":   map[string]string{"out_video": "out.mp4"},
		"ffmpeg_command": "-i {{in_video}} {{out_video}}",
	}

	t.Run("env sets flags", func(t *testing.T) {
		t.Parallel()
		dataDir := filepath.Join(t.TempDir(), "data")
		addr := freeAddr(t)
		k1, k2 := engine.NewAPIKey(), engine.NewAPIKey()
		s := startServer(t, serverOptions{bare: true, addr: addr, key: k1, args: []string{"serve"}, env: []string{
			"OPENRENDER_ADDR=" + addr,
			"OPENRENDER_DATA_DIR=" + dataDir,
			"OPENRENDER_API_KEY=" + k1 + "," + k2,
			"OPENRENDER_ALLOW_PRIVATE_URLS=true",
			"OPENRENDER_WORKERS=1",
		}})
		for i, k := range []string{k1, k2} {
			if code := s.listStatus(k); code != http.StatusOK {
				t.Errorf("key %d of OPENRENDER_API_KEY: %d, want 200", i+1, code)
			}
		}
		if _, err := os.Stat(filepath.Join(dataDir, "openrender.db")); err != nil {
			t.Errorf("OPENRENDER_DATA_DIR: %v", err)
		}
		out := s.waitStdout(bannerDone, 10*time.Second)
		if !strings.Contains(out, "workers:   1 ") || !strings.Contains(out, "private URLs: allowed") ||
			!strings.Contains(out, "listening on http://") || !strings.Contains(out, "database:  sqlite://"+dataDir) ||
			!strings.Contains(out, "ffmpeg:    /") || !strings.Contains(out, "sandboxed (") {
			t.Errorf("the banner does not show the address, the database, the sandbox, OPENRENDER_WORKERS=1 and private URLs allowed:\n%s", out)
		}
		// A loopback input is accepted (it fails later, at download).
		if code, body := s.do("POST", "/api/v1/run-ffmpeg-command", k1, privateInput); code != http.StatusOK {
			t.Errorf("a loopback input with OPENRENDER_ALLOW_PRIVATE_URLS=true: %d %s, want 200", code, body)
		}
		s.stopOK()
	})

	t.Run("command line wins", func(t *testing.T) {
		t.Parallel()
		// If OPENRENDER_ADDR won, the server could not listen.
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		envDir := filepath.Join(t.TempDir(), "env-data")
		flagDir := filepath.Join(t.TempDir(), "flag-data")
		addr := freeAddr(t)
		envKey, flagKey := engine.NewAPIKey(), engine.NewAPIKey()
		s := startServer(t, serverOptions{bare: true, addr: addr, key: flagKey,
			args: []string{"serve", "--addr", addr, "--data-dir", flagDir, "--api-key", flagKey, "--allow-private-urls=false"},
			env: []string{
				"OPENRENDER_ADDR=" + taken.Addr().String(),
				"OPENRENDER_DATA_DIR=" + envDir,
				"OPENRENDER_API_KEY=" + envKey,
				"OPENRENDER_ALLOW_PRIVATE_URLS=true",
				"OPENRENDER_WORKERS=1", // set on neither side: the environment applies
			}})
		if code := s.listStatus(flagKey); code != http.StatusOK {
			t.Errorf("the --api-key key: %d, want 200", code)
		}
		if code := s.listStatus(envKey); code != http.StatusUnauthorized {
			t.Errorf("the OPENRENDER_API_KEY key, overridden by --api-key: %d, want 401", code)
		}
		if _, err := os.Stat(filepath.Join(flagDir, "openrender.db")); err != nil {
			t.Errorf("--data-dir: %v", err)
		}
		if _, err := os.Stat(envDir); err == nil {
			t.Errorf("OPENRENDER_DATA_DIR was used despite --data-dir")
		}
		if code, body := s.do("POST", "/api/v1/run-ffmpeg-command", flagKey, privateInput); code != http.StatusUnprocessableEntity {
			t.Errorf("a loopback input with --allow-private-urls=false over OPENRENDER_ALLOW_PRIVATE_URLS=true: %d %s, want 422", code, body)
		}
		if out := s.waitStdout(bannerDone, 10*time.Second); !strings.Contains(out, "workers:   1 ") {
			t.Errorf("OPENRENDER_WORKERS=1 did not apply next to other flags:\n%s", out)
		}
		s.stopOK()
	})

	t.Run("bad values", func(t *testing.T) {
		t.Parallel()
		for _, kv := range []string{"OPENRENDER_WORKERS=abc", "OPENRENDER_ALLOW_PRIVATE_URLS=maybe", "OPENRENDER_SHUTDOWN_GRACE=soon"} {
			name, _, _ := strings.Cut(kv, "=")
			r := runCLI(t, []string{kv, "OPENRENDER_DATA_DIR=" + t.TempDir()}, "serve")
			if r.code != 2 || !strings.Contains(r.stderr, name) {
				t.Errorf("serve with %s: exit %d, stderr %q; want 2 naming %s", kv, r.code, r.stderr, name)
			}
		}
		// keys create reads the environment the same way.
		r := runCLI(t, []string{"OPENRENDER_DATA_DIR=" + t.TempDir()}, "keys", "create", "--account", "envdir")
		if r.code != 0 || !keyPattern.MatchString(r.stdout) {
			t.Errorf("keys create with OPENRENDER_DATA_DIR: exit %d\n%s", r.code, r.stderr)
		}
	})
}

// TestBadFlagsExitWithUsage: usage errors exit 2, failures to start exit 1,
// and help exits 0.
func TestBadFlagsExitWithUsage(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	for _, c := range []struct {
		args   []string
		code   int
		stderr string // a part of stderr
		stdout string // a part of stdout
	}{
		{args: nil, code: 2, stderr: "Usage:"},
		{args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{args: []string{"keys"}, code: 2, stderr: "usage: openrender keys create"},
		{args: []string{"keys", "delete"}, code: 2, stderr: "usage: openrender keys create"},
		{args: []string{"serve", "--no-such-flag"}, code: 2, stderr: "no-such-flag"},
		{args: []string{"serve", "--workers", "many"}, code: 2, stderr: "-workers"},
		{args: []string{"serve", "stray"}, code: 2, stderr: `unexpected argument "stray"`},
		{args: []string{"serve", "--data-dir", dataDir, "--api-key", "bogus"}, code: 1, stderr: "--api-key"},
		{args: []string{"serve", "--data-dir", dataDir, "--log-level", "loud"}, code: 1, stderr: "--log-level"},
		{args: []string{"serve", "--data-dir", dataDir, "--signing-key", "short"}, code: 1, stderr: "--signing-key"},
		{args: []string{"serve", "-h"}, code: 0, stderr: "Usage: openrender serve"},
		{args: []string{"serve", "--help"}, code: 0, stderr: "-shutdown-grace"},
		{args: []string{"keys", "create", "-h"}, code: 0, stderr: "-account"},
		{args: []string{"help"}, code: 0, stdout: "openrender serve"},
		{args: []string{"version"}, code: 0, stdout: "openrender "},
	} {
		t.Run(strings.Join(append([]string{"openrender"}, c.args...), " "), func(t *testing.T) {
			r := runCLI(t, nil, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.stderr) || !strings.Contains(r.stdout, c.stdout) {
				t.Errorf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", r.code, c.code, c.stdout, r.stdout, c.stderr, r.stderr)
			}
		})
	}
	// A refused --api-key stops the start before any key is made.
	st := openDB(t, dataDir)
	defer st.Close()
	if n, err := st.CountAPIKeys(t.Context()); err != nil || n != 0 {
		t.Errorf("after refused starts the store holds %d keys (%v), want 0", n, err)
	}
}
