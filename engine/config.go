package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/storage"
	"github.com/openrender/openrender/store"
)

// Defaults for Config fields left zero.
const (
	// DefaultLeaseDuration is how long a claim on a command lasts without a
	// heartbeat. A command whose worker died is taken over this long after
	// its last heartbeat, however long the command itself runs.
	DefaultLeaseDuration = 30 * time.Second
	// DefaultMaxWorkerLosses is how many times a command may lose its
	// worker before it ends FAILED with WORKER_LOST (a command that kills
	// every worker that runs it must not loop forever).
	DefaultMaxWorkerLosses = 3
	// DefaultRunTimeout applies when a request has no max_command_run_seconds.
	DefaultRunTimeout = 600 * time.Second
	// DefaultMaxRunTimeout is the largest max_command_run_seconds a request may ask for.
	DefaultMaxRunTimeout = 3600 * time.Second
	// DefaultMaxInputBytes caps each downloaded input.
	DefaultMaxInputBytes = 4 << 30
	// DefaultMaxOutputBytes caps each output file.
	DefaultMaxOutputBytes = 8 << 30
	// DefaultDownloadTimeout bounds each input download, start to end.
	DefaultDownloadTimeout = 10 * time.Minute
	// DefaultStorageURLTTL is how long a storage_url link stays valid.
	DefaultStorageURLTTL = 24 * time.Hour
	// DefaultStderrTailBytes is how much of ffmpeg's stderr is kept.
	DefaultStderrTailBytes = 4 << 10
	// DefaultNotifierTimeout bounds each call of a Notifier.
	DefaultNotifierTimeout = 30 * time.Second
	// DefaultMaxMemoryBytes caps each ffmpeg run's address space
	// (RLIMIT_AS). It is virtual memory, which runs well above what is
	// resident: x264 with a thread per core reserves a lot.
	DefaultMaxMemoryBytes = 8 << 30
	// DefaultMaxProcesses caps the processes and threads of each sandboxed
	// ffmpeg run (RLIMIT_NPROC): enough for codec thread pools on large
	// machines, too few for a fork bomb.
	DefaultMaxProcesses = 512
	// DefaultMaxPixels is ffmpeg's -max_pixels for every input: decoded
	// frames larger than 8192x8192 are refused (a small file can declare a
	// huge frame size and make the decoder allocate gigabytes).
	DefaultMaxPixels = 8192 * 8192
	// DefaultMaxRunningPerAccount is how many commands of one account may
	// run at once, across every engine process sharing the store. The rest
	// stay QUEUED until one finishes.
	DefaultMaxRunningPerAccount = 8
	// DefaultMaxUploadBytes caps each file uploaded through the files API.
	DefaultMaxUploadBytes = 4 << 30
	// DefaultFileSweepInterval is how often a started engine deletes files
	// past Retention and finishes deletes that an engine process left
	// half done (the record marked, the bytes not yet gone).
	DefaultFileSweepInterval = time.Minute
)

// Config configures an Engine. Store and Storage are required; every other
// field has a default, stated on the field.
type Config struct {
	// Store is the state store, the source of truth. Required.
	Store store.Store
	// Storage holds output bytes. Required.
	Storage storage.Storage
	// Queue carries accepted command ids to workers. Default: an
	// in-process queue.Memory.
	Queue queue.Queue

	// WorkDir holds each running command's inputs and outputs (in
	// WorkDir/runs/<node id>/<command id>.<attempt>) and the lock files of
	// the engine processes that share it (WorkDir/nodes). It must belong to
	// the engine's user and not be writable by others; it is created (mode
	// 0700) if missing. Default: <os.TempDir()>/openrender-<uid>.
	WorkDir string
	// NodeID names this engine process in leases and logs; it must be
	// unique among processes sharing a store. A letter or digit, then up
	// to 99 letters, digits, '.', '_' or '-'. Default: the host name and a
	// random suffix.
	NodeID string
	// Workers is how many commands run at once. Default: runtime.NumCPU().
	Workers int

	// LeaseDuration: see DefaultLeaseDuration.
	LeaseDuration time.Duration
	// HeartbeatInterval is how often a running command's lease is renewed.
	// Default: LeaseDuration / 3.
	HeartbeatInterval time.Duration
	// SweepInterval is how often the engine looks for commands that no
	// queue delivered (their submitter died, or their worker's lease
	// expired) and for dead engine processes on this host. Default:
	// LeaseDuration / 2.
	SweepInterval time.Duration
	// MaxWorkerLosses: see DefaultMaxWorkerLosses.
	MaxWorkerLosses int

	// DefaultRunTimeout: see the constant of the same name.
	DefaultRunTimeout time.Duration
	// MaxRunTimeout: see DefaultMaxRunTimeout.
	MaxRunTimeout time.Duration
	// MaxInputBytes: see DefaultMaxInputBytes.
	MaxInputBytes int64
	// MaxOutputBytes: see DefaultMaxOutputBytes.
	MaxOutputBytes int64
	// DownloadTimeout: see DefaultDownloadTimeout.
	DownloadTimeout time.Duration
	// AllowPrivateURLs lets inputs (and webhooks) reach loopback, private
	// and link-local addresses. Off by default: on a server, those are the
	// cloud metadata service and internal systems.
	AllowPrivateURLs bool
	// StorageURLTTL: see DefaultStorageURLTTL.
	StorageURLTTL time.Duration
	// MaxUploadBytes: see DefaultMaxUploadBytes. Files fetched with
	// store-file are capped by MaxInputBytes, like command inputs.
	MaxUploadBytes int64
	// Retention is how long files (uploaded, fetched, and command outputs)
	// are kept: older ones are deleted by the file sweep of any started
	// engine, bytes and all, their records kept with is_deleted. Default:
	// 0, keep forever.
	Retention time.Duration
	// FileSweepInterval: see DefaultFileSweepInterval. The same sweep
	// deletes Idempotency-Key records past IdempotencyTTL.
	FileSweepInterval time.Duration
	// IdempotencyTTL: see DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration

	// FFmpegPath and FFprobePath default to the programs found on PATH.
	FFmpegPath  string
	FFprobePath string
	// Runner runs ffmpeg. Default: the sandbox (no network, filesystem
	// limited with Landlock to system files and the command's own work dir,
	// resource limits), after Start has probed that it works on this host.
	// A Runner set here is used as is: the engine does not sandbox it.
	Runner Runner
	// UnsafeNoSandbox runs ffmpeg without the sandbox when the host can't
	// provide one (no Landlock, no namespaces). Default false: Start then
	// refuses to start workers. Only for trusted commands: without the
	// sandbox a command can read any file the engine can and reach the
	// network.
	UnsafeNoSandbox bool
	// SandboxReadOnlyPaths are extra paths sandboxed ffmpeg may read, e.g.
	// fonts outside /usr. Default: none beyond /usr, /lib*, fontconfig,
	// the dynamic linker's cache and ffmpeg's own directory.
	SandboxReadOnlyPaths []string
	// MaxMemoryBytes: see DefaultMaxMemoryBytes. Negative: no limit.
	MaxMemoryBytes int64
	// MaxProcesses: see DefaultMaxProcesses. Negative: no limit.
	MaxProcesses int64
	// MaxPixels: see DefaultMaxPixels.
	MaxPixels int64
	// MaxRunningPerAccount: see DefaultMaxRunningPerAccount. Negative: no
	// limit.
	MaxRunningPerAccount int
	// StderrTailBytes: see DefaultStderrTailBytes.
	StderrTailBytes int

	// WebhookSchedule is when webhook attempts are made; its length is the
	// number of attempts. Default: notify.DefaultRetrySchedule.
	WebhookSchedule notify.RetrySchedule
	// WebhookJitter: see notify.DefaultJitter (the default). Negative: none.
	WebhookJitter float64
	// WebhookTimeout: see notify.DefaultAttemptTimeout (the default).
	WebhookTimeout time.Duration
	// WebhookDisableAfter: see notify.DefaultDisableAfter (the default).
	WebhookDisableAfter int
	// WebhookSenders: see notify.DefaultSenders (the default).
	WebhookSenders int
	// Notifiers hear about every command this process finishes, in
	// process, after the outcome is stored (see notify.Notifier). Default: none.
	Notifiers []notify.Notifier
	// NotifierTimeout: see DefaultNotifierTimeout.
	NotifierTimeout time.Duration

	// Signal carries command changes (status, progress, cancel requests)
	// between the engine processes sharing the store, so that they wake
	// at once (see CommandSignal). Default: none; each process then reads
	// the store every WatchInterval while it has something to watch.
	Signal CommandSignal

	// Logger receives the engine's logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the engine's clock. Default: time.Now.
	Now func() time.Time
}

// nodeIDPattern keeps node ids safe as file names: no "." or "..", no
// separators.
var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// withDefaults returns a copy of c with zero fields defaulted, or an error
// naming the first field that can't work.
func (c Config) withDefaults() (Config, error) {
	if c.Store == nil {
		return c, errors.New("engine: Config.Store is required")
	}
	if c.Storage == nil {
		return c, errors.New("engine: Config.Storage is required")
	}
	if c.Queue == nil {
		c.Queue = queue.NewMemory()
	}
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(os.TempDir(), fmt.Sprintf("openrender-%d", os.Getuid()))
	}
	abs, err := filepath.Abs(c.WorkDir)
	if err != nil {
		return c, fmt.Errorf("engine: WorkDir: %w", err)
	}
	c.WorkDir = abs
	if c.NodeID == "" {
		c.NodeID = defaultNodeID()
	}
	if !nodeIDPattern.MatchString(c.NodeID) {
		return c, fmt.Errorf("engine: NodeID %q: use a letter or digit, then up to 99 letters, digits, '.', '_' or '-'", c.NodeID)
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = c.LeaseDuration / 3
	}
	if c.HeartbeatInterval >= c.LeaseDuration {
		return c, errors.New("engine: HeartbeatInterval must be shorter than LeaseDuration")
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = c.LeaseDuration / 2
	}
	if c.MaxWorkerLosses <= 0 {
		c.MaxWorkerLosses = DefaultMaxWorkerLosses
	}
	if c.DefaultRunTimeout <= 0 {
		c.DefaultRunTimeout = DefaultRunTimeout
	}
	if c.MaxRunTimeout <= 0 {
		c.MaxRunTimeout = DefaultMaxRunTimeout
	}
	if c.MaxRunTimeout < c.DefaultRunTimeout {
		c.MaxRunTimeout = c.DefaultRunTimeout
	}
	if c.MaxInputBytes <= 0 {
		c.MaxInputBytes = DefaultMaxInputBytes
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.DownloadTimeout <= 0 {
		c.DownloadTimeout = DefaultDownloadTimeout
	}
	if c.StorageURLTTL <= 0 {
		c.StorageURLTTL = DefaultStorageURLTTL
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.Retention < 0 {
		return c, errors.New("engine: Retention must not be negative (0 keeps files forever)")
	}
	if c.FileSweepInterval <= 0 {
		c.FileSweepInterval = DefaultFileSweepInterval
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if c.StderrTailBytes <= 0 {
		c.StderrTailBytes = DefaultStderrTailBytes
	}
	// The Webhook* fields are defaulted by notify.NewWebhookSender; New
	// copies the values it settled on back, so Config reports them.
	if c.NotifierTimeout <= 0 {
		c.NotifierTimeout = DefaultNotifierTimeout
	}
	if c.MaxMemoryBytes == 0 {
		c.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	if c.MaxProcesses == 0 {
		c.MaxProcesses = DefaultMaxProcesses
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.MaxRunningPerAccount == 0 {
		c.MaxRunningPerAccount = DefaultMaxRunningPerAccount
	}
	for _, p := range c.SandboxReadOnlyPaths {
		if !filepath.IsAbs(p) {
			return c, fmt.Errorf("engine: SandboxReadOnlyPaths: %q is not an absolute path", p)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// resolvePrograms finds ffmpeg and ffprobe. New calls it but only Start
// fails on its error, so a process that only serves the API needs neither.
func (c *Config) resolvePrograms() error {
	for _, p := range []struct {
		field *string
		name  string
	}{{&c.FFmpegPath, "ffmpeg"}, {&c.FFprobePath, "ffprobe"}} {
		if *p.field == "" {
			*p.field = p.name
		}
		path, err := exec.LookPath(*p.field)
		if err != nil {
			return fmt.Errorf("engine: %s not found (install it, e.g. apt-get install -y ffmpeg): %w", p.name, err)
		}
		// An absolute path: ffmpeg runs with a minimal environment and a
		// work dir as cwd, where a relative name would mean something else.
		if path, err = filepath.Abs(path); err != nil {
			return err
		}
		*p.field = path
	}
	return nil
}

// checkWorkDir creates the work dir if needed and refuses one that another
// user could tamper with: it holds the inputs ffmpeg reads and the outputs
// the engine uploads, and dead engines' dirs are deleted from it.
func checkWorkDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("engine: work dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("engine: work dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("engine: work dir %s is not a directory (a symlink is not accepted)", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("engine: work dir %s belongs to uid %d, not to this process's uid %d", dir, st.Uid, os.Getuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("engine: work dir %s is writable by other users (mode %v); chmod go-w it", dir, fi.Mode().Perm())
	}
	return nil
}

func defaultNodeID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, host)
	if len(host) > 60 {
		host = host[:60]
	}
	if host == "" {
		host = "node"
	}
	var b [4]byte
	rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}
