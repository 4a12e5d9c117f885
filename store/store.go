// Package store defines OpenRender's state store: the durable source of truth
// for accounts, API keys, commands, their leases and their output files.
//
// The package holds only the portable types, the Store interface and a URL
// registry (see Open). Implementations live in sub-packages (store/sqlite, and
// later others) and register themselves from an init function, so a program
// links only the drivers it blank-imports, as gocloud.dev does for blobs.
// Every implementation must pass the conformance suite in store/storetest.
//
// Who owns a running command is decided here, by leases: a worker claims a
// command with ClaimCommand, keeps the lease alive with RenewLease while
// ffmpeg runs, and records the result with FinishCommand. Each of those is a
// conditional write on the lease owner, so a worker that lost its lease (it
// stalled and another worker took the command over) can never record a
// result, and a command finishes exactly once.
//
// Times are passed in by the caller rather than read from a clock inside the
// store, so that the engine's injectable clock also drives lease expiry and
// the conformance suite can test expiry without sleeping.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/openrender/openrender/media"
)

// Errors every implementation returns (possibly wrapped), so that callers can
// branch with errors.Is.
var (
	// ErrNotFound: no record with that id (or key hash).
	ErrNotFound = errors.New("store: not found")
	// ErrNotClaimable: the command is finished, or held by a live lease.
	ErrNotClaimable = errors.New("store: command is not claimable")
	// ErrLeaseLost: the caller no longer holds the command's lease.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrAccountBusy: the claim was refused because the command's account
	// already runs Lease.MaxRunningPerAccount commands. The command stays
	// QUEUED (or, if its lease had expired, PROCESSING and claimable).
	ErrAccountBusy = errors.New("store: the account runs as many commands as it may")
	// ErrConflict: the write would break a uniqueness rule (for example an
	// API key already given to another account).
	ErrConflict = errors.New("store: conflict")
)

// Status is a command's place in its life: QUEUED → PROCESSING → SUCCESS or
// FAILED. It only moves forward, except that a PROCESSING command whose
// worker shut down gracefully goes back to QUEUED (it never ran to the end).
type Status string

// The command statuses, spelled exactly as the HTTP contract spells them.
const (
	StatusQueued     Status = "QUEUED"
	StatusProcessing Status = "PROCESSING"
	StatusSuccess    Status = "SUCCESS"
	StatusFailed     Status = "FAILED"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusProcessing, StatusSuccess, StatusFailed:
		return true
	}
	return false
}

// Final reports whether s is SUCCESS or FAILED.
func (s Status) Final() bool { return s == StatusSuccess || s == StatusFailed }

// CommandType tells a single command from a chain or a batch member.
type CommandType string

// The command types of the contract.
const (
	TypeFFmpegCommand   CommandType = "FFMPEG_COMMAND"
	TypeChainedCommand  CommandType = "CHAINED_COMMAND"
	TypeMultipleCommand CommandType = "MULTIPLE_COMMAND"
)

// FileStatus is the state of a stored file.
type FileStatus string

// The file statuses of the contract.
const (
	FileProcessing FileStatus = "PROCESSING"
	FileStored     FileStatus = "STORED"
	FileFailed     FileStatus = "FAILED"
)

// Account owns keys, commands and files; nothing is visible across accounts.
type Account struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// CommandSpec is what the engine runs, as validated at submit time. It is
// stored with the command so that any worker, on any node, can run it.
type CommandSpec struct {
	InputFiles     map[string]string `json:"input_files"`
	OutputFiles    map[string]string `json:"output_files"`
	FFmpegCommands []string          `json:"ffmpeg_commands"`
	// Metadata is as the client sent it: nil if absent, numbers as
	// json.Number so they echo back digit for digit.
	Metadata   map[string]any `json:"metadata"`
	WebhookURL string         `json:"webhook_url,omitempty"`
	// MaxRunSeconds bounds how long ffmpeg may run, in seconds.
	MaxRunSeconds float64 `json:"max_run_seconds"`
}

// OutputRef names one declared output and the file id reserved for it at
// submit time, so that a command's output file ids never change.
type OutputRef struct {
	Alias    string `json:"alias"`
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
}

// Command is one accepted command and everything known about its run.
type Command struct {
	ID        string
	AccountID string
	Type      CommandType
	Status    Status
	// Request is the request body exactly as the client sent it; the API
	// echoes it as original_request.
	Request json.RawMessage
	Spec    CommandSpec
	Outputs []OutputRef

	ErrorStatus  string
	ErrorMessage string
	// Timings are nil until the command is finished.
	TotalProcessingSeconds *float64
	FFmpegRunSeconds       *float64

	CreatedAt  time.Time
	UpdatedAt  time.Time
	ClaimedAt  time.Time // zero until first claimed; the latest claim after that
	FinishedAt time.Time // zero until finished

	// Lease state, empty unless PROCESSING. LeaseOwner identifies the claim
	// (a token unique to one claim of one worker); LeaseNode the engine
	// process that made it.
	LeaseOwner     string
	LeaseNode      string
	LeaseExpiresAt time.Time
	// Attempts counts claims; LostLeases counts claims that took the
	// command over from a worker whose lease had expired.
	Attempts   int
	LostLeases int

	// Progress is the latest progress its worker recorded (nil if none);
	// only meaningful while PROCESSING. See CommandControl.
	Progress *Progress
	// CancelRequestedAt is when a cancel was requested for the running
	// command; zero if none was.
	CancelRequestedAt time.Time
}

// File is one stored file: a command's output (CommandID and Alias set), or
// a file uploaded or fetched through the files API (OriginalURL set when
// fetched).
type File struct {
	ID        string
	AccountID string
	CommandID string
	Alias     string
	FileName  string
	// BlobKey is where the bytes live in the engine's bucket.
	BlobKey     string
	Status      FileStatus
	SizeBytes   int64
	Info        media.Info
	IsDeleted   bool
	OriginalURL string

	ErrorStatus  string
	ErrorMessage string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Lease is a claim on a command: Owner holds it until ExpiresAt. Owner must
// be unique to one claim (two workers of one process, or one worker claiming
// the same command twice, use different owners), so that a worker that lost
// its claim can never act on a later one. Node names the engine process, for
// ExpireLeases. Now is the caller's clock reading, used to judge whether an
// older lease has expired and, for a claim, as the write time. Renewing a
// lease does not change the command's UpdatedAt: a heartbeat is not a change
// a client can see.
type Lease struct {
	Owner     string
	Node      string
	Now       time.Time
	ExpiresAt time.Time
	// MaxRunningPerAccount, if positive, makes ClaimCommand refuse (with
	// ErrAccountBusy) a command whose account already has this many other
	// PROCESSING commands with live leases. The count and the claim are
	// one atomic step, so the cap holds across every process sharing the
	// store. Only ClaimCommand reads it.
	MaxRunningPerAccount int
}

// Outcome is how a run ended, recorded atomically by FinishCommand together
// with the output files it stored.
type Outcome struct {
	Status                 Status // StatusSuccess or StatusFailed
	ErrorStatus            string
	ErrorMessage           string
	TotalProcessingSeconds float64
	FFmpegRunSeconds       float64
	Files                  []*File
	FinishedAt             time.Time
	// Event, when set, is the webhook event announcing this outcome,
	// inserted in the same transaction (PENDING, due at once; or
	// NOT_DELIVERED with LastError saying why, which also writes a
	// delivery record with Attempt 0).
	Event *WebhookEvent
}

// CommandQuery selects a page of an account's commands, newest first.
type CommandQuery struct {
	AccountID string
	Status    Status // empty: any
	Limit     int
	Offset    int
}

// Accounts stores accounts and the hashes of their API keys. Keys themselves
// are never stored.
type Accounts interface {
	// EnsureAccount returns the account with that name, creating it if needed.
	EnsureAccount(ctx context.Context, name string, now time.Time) (*Account, error)
	// AddAPIKey gives a key hash to an account. Adding the same hash to the
	// same account again is a no-op; to another account, ErrConflict.
	AddAPIKey(ctx context.Context, accountID string, keyHash []byte, now time.Time) error
	// AccountByKeyHash finds the account a key hash belongs to, or ErrNotFound.
	AccountByKeyHash(ctx context.Context, keyHash []byte) (*Account, error)
	// CountAPIKeys counts the keys of every account.
	CountAPIKeys(ctx context.Context) (int, error)
}

// Commands stores commands and decides, through leases, who runs them.
type Commands interface {
	// CreateCommand records a new QUEUED command. When it returns nil the
	// command is durable: it survives a crash of the process that same instant.
	CreateCommand(ctx context.Context, c *Command) error
	// CreateCommands records several new QUEUED commands atomically: all
	// of them or, on any error, none (a run-multiple-ffmpeg-commands
	// request is accepted whole or not at all).
	CreateCommands(ctx context.Context, cs []*Command) error
	// GetCommand returns any account's command; callers check AccountID.
	GetCommand(ctx context.Context, id string) (*Command, error)
	// ListCommands returns a page of one account's commands, newest first.
	ListCommands(ctx context.Context, q CommandQuery) ([]*Command, error)

	// ClaimCommand moves a QUEUED command, or a PROCESSING one whose lease
	// expired at or before l.Now, to PROCESSING under l, and returns it as
	// claimed. Taking over an expired lease increments LostLeases. Any other
	// state gives ErrNotClaimable (ErrNotFound for an unknown id); an
	// account at l.MaxRunningPerAccount gives ErrAccountBusy.
	ClaimCommand(ctx context.Context, id string, l Lease) (*Command, error)
	// RenewLease extends the lease l.Owner holds, or returns ErrLeaseLost.
	RenewLease(ctx context.Context, id string, l Lease) error
	// ReleaseCommand puts a command its owner did not finish back to QUEUED
	// (a graceful shutdown), or returns ErrLeaseLost.
	ReleaseCommand(ctx context.Context, id, owner string, now time.Time) error
	// FinishCommand records the outcome and inserts o.Files in one
	// transaction, if owner still holds the lease; otherwise ErrLeaseLost and
	// nothing is written.
	FinishCommand(ctx context.Context, id, owner string, o Outcome) error
	// ClaimableCommands lists, oldest first, the ids of commands that
	// ClaimCommand would accept at now: QUEUED ones and PROCESSING ones whose
	// lease has expired. Recovery sweeps hand these to the queue. after is
	// "" for the first page, then the last id of the previous page.
	ClaimableCommands(ctx context.Context, now time.Time, after string, limit int) ([]string, error)
	// ExpireLeases ends every lease held by claims of node at now, so the
	// commands they held become claimable at once. The engine calls it when
	// it knows that node's process is dead. It returns how many it ended.
	ExpireLeases(ctx context.Context, node string, now time.Time) (int, error)
}

// FileQuery selects a page of an account's files, newest first.
type FileQuery struct {
	AccountID string
	Limit     int
	Offset    int
}

// FileResult is how fetching or uploading a PROCESSING file ended, recorded
// by FinishFile.
type FileResult struct {
	Status       FileStatus // FileStored or FileFailed
	SizeBytes    int64
	Info         media.Info
	ErrorStatus  string
	ErrorMessage string
	Now          time.Time
}

// Files stores file records. Bytes live in blob storage, not here.
//
// Deleting is two steps, so that several engine processes can delete (by
// API call or by retention sweep) without coordinating and without losing
// a blob: a Delete* method marks the rows deleted and returns the ones it
// marked (a conditional write: two callers never both get the same row),
// the caller deletes their blobs, then reports them with MarkPurged. A
// caller that dies in between leaves the rows in UnpurgedFiles, for a
// later sweep to finish; deleting a blob twice is harmless.
type Files interface {
	// CreateFile records a new file (a PROCESSING one, or one already
	// STORED or FAILED). ErrConflict if the id exists.
	CreateFile(ctx context.Context, f *File) error
	// GetFile returns any account's file; callers check AccountID.
	GetFile(ctx context.Context, id string) (*File, error)
	// ListFiles returns a page of one account's files, newest first,
	// deleted ones included.
	ListFiles(ctx context.Context, q FileQuery) ([]*File, error)
	// CommandFiles returns the files of the given commands, in no set order.
	CommandFiles(ctx context.Context, commandIDs ...string) ([]*File, error)
	// FinishFile records the result of a PROCESSING file. ErrNotFound for
	// an unknown id; ErrConflict if the file is no longer PROCESSING or
	// was deleted meanwhile (the caller then deletes the bytes it stored).
	FinishFile(ctx context.Context, id string, r FileResult) error
	// FailStaleFiles finishes, as r says (r.Status FileFailed), every live
	// PROCESSING file last updated before cutoff: their fetch died with its
	// process. It returns the files it failed, so that the caller deletes
	// any bytes the dead process stored for them.
	FailStaleFiles(ctx context.Context, cutoff time.Time, r FileResult) ([]*File, error)

	// DeleteFile marks a file deleted and returns it (IsDeleted set).
	// ErrNotFound if there is no such file or it is already deleted.
	DeleteFile(ctx context.Context, id string, now time.Time) (*File, error)
	// DeleteCommandFiles marks every live file of a command deleted and
	// returns the files it marked (none if there were none).
	DeleteCommandFiles(ctx context.Context, commandID string, now time.Time) ([]*File, error)
	// DeleteFilesCreatedBefore marks up to limit live files created
	// before cutoff deleted, oldest first, and returns them.
	DeleteFilesCreatedBefore(ctx context.Context, cutoff, now time.Time, limit int) ([]*File, error)
	// UnpurgedFiles lists up to limit files marked deleted at or before
	// before whose bytes are not yet reported gone by MarkPurged.
	UnpurgedFiles(ctx context.Context, before time.Time, limit int) ([]*File, error)
	// MarkPurged records that the bytes of deleted files are gone.
	MarkPurged(ctx context.Context, ids ...string) error
}

// Store is the whole state store.
type Store interface {
	Accounts
	Commands
	Files
	Webhooks
	Presets
	CommandControl
	Idempotency
	// Close releases the store's resources.
	Close() error
}
