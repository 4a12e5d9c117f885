package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openrender/openrender/store"
)

const commandColumns = `id, account_id, command_type, status, request, spec, outputs,
	error_status, error_message, total_processing_seconds, ffmpeg_run_seconds,
	created_at, updated_at, claimed_at, finished_at,
	lease_owner, lease_node, lease_expires_at, attempts, lost_leases,
	progress, progress_eta_seconds, progress_at, cancel_requested_at`

func scanCommand(r pgx.Row) (*store.Command, error) {
	var (
		c                                   store.Command
		request, spec, outputs              []byte
		total, ffmpeg                       *float64
		created, updated, claimed, finished int64
		leaseExpires                        int64
		progress, eta                       *float64
		progressAt, cancelRequested         int64
	)
	if err := r.Scan(&c.ID, &c.AccountID, &c.Type, &c.Status, &request, &spec, &outputs,
		&c.ErrorStatus, &c.ErrorMessage, &total, &ffmpeg,
		&created, &updated, &claimed, &finished,
		&c.LeaseOwner, &c.LeaseNode, &leaseExpires, &c.Attempts, &c.LostLeases,
		&progress, &eta, &progressAt, &cancelRequested); err != nil {
		return nil, err
	}
	c.Request = json.RawMessage(request)
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber() // metadata numbers come back digit for digit
	if err := dec.Decode(&c.Spec); err != nil {
		return nil, fmt.Errorf("postgres: command %s has a corrupt spec: %w", c.ID, err)
	}
	if err := json.Unmarshal(outputs, &c.Outputs); err != nil {
		return nil, fmt.Errorf("postgres: command %s has corrupt outputs: %w", c.ID, err)
	}
	c.TotalProcessingSeconds, c.FFmpegRunSeconds = total, ffmpeg
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	c.ClaimedAt, c.FinishedAt = fromMicros(claimed), fromMicros(finished)
	c.LeaseExpiresAt = fromMicros(leaseExpires)
	c.Progress = progressOf(progress, eta, progressAt)
	c.CancelRequestedAt = fromMicros(cancelRequested)
	return &c, nil
}

const insertCommandSQL = `INSERT INTO commands
	(id, account_id, command_type, status, request, spec, outputs, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// CreateCommand implements store.Commands. When the store's queue is in use
// (see Queue), the command is queued by the same statement that records
// it: one implicit transaction inserts the command and its queue row and
// notifies the listening workers at commit.
func (s *Store) CreateCommand(ctx context.Context, c *store.Command) error {
	request, spec, outputs, err := encodeCommand(c)
	if err != nil {
		return err
	}
	args := []any{c.ID, c.AccountID, c.Type, c.Status, request, spec, outputs, micros(c.CreatedAt), micros(c.UpdatedAt)}
	if s.enqueue.Load() {
		_, err = s.pool.Exec(ctx, `WITH c AS (`+insertCommandSQL+` RETURNING id),
			q AS (INSERT INTO queue_jobs (id, queued_at) SELECT id, $8 FROM c ON CONFLICT (id) DO NOTHING)
			SELECT pg_notify($10, '')`, append(args, s.channel())...)
	} else {
		_, err = s.pool.Exec(ctx, insertCommandSQL, args...)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: command %s exists: %w", c.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create command: %w", err)
	}
	return nil
}

// encodeCommand checks that c is a new command and returns its JSON
// columns: request, spec and outputs.
func encodeCommand(c *store.Command) (request, spec, outputs []byte, err error) {
	if c.Status != store.StatusQueued {
		return nil, nil, nil, fmt.Errorf("postgres: a new command must be QUEUED, not %s", c.Status)
	}
	spec, err = json.Marshal(c.Spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("postgres: encode spec: %w", err)
	}
	outputs, err = json.Marshal(c.Outputs)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("postgres: encode outputs: %w", err)
	}
	if c.Outputs == nil {
		outputs = []byte("[]")
	}
	request = []byte(c.Request)
	if len(request) == 0 {
		request = []byte("{}")
	}
	return request, spec, outputs, nil
}

// insertCommandsSQL inserts a batch of commands given as parallel arrays
// (unnest zips them row by row), so a batch of any size is one statement.
const insertCommandsSQL = `INSERT INTO commands
	(id, account_id, command_type, status, request, spec, outputs, created_at, updated_at)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
		$5::bytea[], $6::bytea[], $7::bytea[], $8::bigint[], $9::bigint[])`

// CreateCommands implements store.Commands. The batch is one statement, so
// one implicit transaction: an id that exists, or one the batch repeats,
// fails the primary key and nothing is recorded. When the store's queue is
// in use, the same statement queues every command and notifies the
// listening workers at commit, as CreateCommand does.
func (s *Store) CreateCommands(ctx context.Context, cs []*store.Command) error {
	if len(cs) == 0 {
		return nil
	}
	var (
		ids, accounts, types, statuses = make([]string, len(cs)), make([]string, len(cs)), make([]string, len(cs)), make([]string, len(cs))
		requests, specs, outputs       = make([][]byte, len(cs)), make([][]byte, len(cs)), make([][]byte, len(cs))
		created, updated               = make([]int64, len(cs)), make([]int64, len(cs))
	)
	for i, c := range cs {
		request, spec, out, err := encodeCommand(c)
		if err != nil {
			return err
		}
		ids[i], accounts[i], types[i], statuses[i] = c.ID, c.AccountID, string(c.Type), string(c.Status)
		requests[i], specs[i], outputs[i] = request, spec, out
		created[i], updated[i] = micros(c.CreatedAt), micros(c.UpdatedAt)
	}
	args := []any{ids, accounts, types, statuses, requests, specs, outputs, created, updated}
	var err error
	if s.enqueue.Load() {
		_, err = s.pool.Exec(ctx, `WITH c AS (`+insertCommandsSQL+` RETURNING id, created_at),
			q AS (INSERT INTO queue_jobs (id, queued_at) SELECT id, created_at FROM c ON CONFLICT (id) DO NOTHING)
			SELECT pg_notify($10, '')`, append(args, s.channel())...)
	} else {
		_, err = s.pool.Exec(ctx, insertCommandsSQL, args...)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: a command of the batch exists or is repeated: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create commands: %w", err)
	}
	return nil
}

// GetCommand implements store.Commands.
func (s *Store) GetCommand(ctx context.Context, id string) (*store.Command, error) {
	c, err := scanCommand(s.pool.QueryRow(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get command: %w", err)
	}
	return c, nil
}

// ListCommands implements store.Commands.
func (s *Store) ListCommands(ctx context.Context, q store.CommandQuery) ([]*store.Command, error) {
	query := `SELECT ` + commandColumns + ` FROM commands WHERE account_id = $1`
	args := []any{q.AccountID}
	if q.Status != "" {
		args = append(args, q.Status)
		query += fmt.Sprintf(` AND status = $%d`, len(args))
	}
	args = append(args, q.Limit, q.Offset)
	query += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list commands: %w", err)
	}
	defer rows.Close()
	var out []*store.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list commands: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// claimSQL moves a claimable command to PROCESSING under a new lease. Two
// claims racing for one row are ordered by its row lock: the second
// re-checks the WHERE clause against the first's result and changes
// nothing. $6 is the per-account cap (0 or less: none).
const claimSQL = `UPDATE commands SET
		status = 'PROCESSING',
		lease_owner = $1, lease_node = $2, lease_expires_at = $3,
		claimed_at = $4, updated_at = $4,
		attempts = attempts + 1,
		lost_leases = lost_leases + (status = 'PROCESSING')::int,
		progress = NULL, progress_eta_seconds = NULL, progress_at = 0
	WHERE id = $5 AND (status = 'QUEUED' OR (status = 'PROCESSING' AND lease_expires_at <= $4))
		AND ($6 <= 0 OR (SELECT count(*) FROM commands AS running
			WHERE running.account_id = commands.account_id AND running.status = 'PROCESSING'
				AND running.lease_expires_at > $4 AND running.id <> commands.id) < $6)
	RETURNING ` + commandColumns

// ClaimCommand implements store.Commands. With a per-account cap, the
// count and the claim must be one step across every process: the claim
// runs in a transaction holding an advisory lock for the account, so
// claims of one account's commands take turns, and the UPDATE (a new
// statement, so a new snapshot under READ COMMITTED) counts every claim
// committed before it.
func (s *Store) ClaimCommand(ctx context.Context, id string, l store.Lease) (*store.Command, error) {
	now := micros(l.Now)
	args := []any{l.Owner, l.Node, micros(l.ExpiresAt), now, id, l.MaxRunningPerAccount}
	var c *store.Command
	var err error
	if l.MaxRunningPerAccount <= 0 {
		c, err = scanCommand(s.pool.QueryRow(ctx, claimSQL, args...))
	} else {
		// One round trip: a batch outside a transaction block runs as one
		// implicit transaction, which holds the advisory lock until it
		// ends, and each of its statements takes a new snapshot.
		b := &pgx.Batch{}
		b.Queue(`SELECT pg_advisory_xact_lock(`+accountLockClass+`, hashtext(account_id)) FROM commands WHERE id = $1`, id)
		b.Queue(claimSQL, args...)
		br := s.pool.SendBatch(ctx, b)
		if _, err = br.Exec(); err == nil {
			c, err = scanCommand(br.QueryRow())
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.whyNotClaimed(ctx, id, now)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: claim command: %w", err)
	}
	return c, nil
}

// accountLockClass is the first key of the advisory locks that serialise
// claims of one account's commands (the second is a hash of the account id).
const accountLockClass = `1869573746` // "open" in ASCII

// whyNotClaimed tells an unknown id, a command that is not claimable, and
// one that was claimable but whose account is at its cap.
func (s *Store) whyNotClaimed(ctx context.Context, id string, now int64) error {
	var claimable bool
	err := s.pool.QueryRow(ctx, `SELECT status = 'QUEUED' OR (status = 'PROCESSING' AND lease_expires_at <= $1)
		FROM commands WHERE id = $2`, now, id).Scan(&claimable)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if claimable {
		return store.ErrAccountBusy
	}
	return store.ErrNotClaimable
}

// RenewLease implements store.Commands.
func (s *Store) RenewLease(ctx context.Context, id string, l store.Lease) error {
	return s.ownedUpdate(ctx, `UPDATE commands SET lease_expires_at = $1 WHERE id = $2 AND status = 'PROCESSING' AND lease_owner = $3`,
		micros(l.ExpiresAt), id, l.Owner)
}

// ReleaseCommand implements store.Commands.
func (s *Store) ReleaseCommand(ctx context.Context, id, owner string, now time.Time) error {
	return s.ownedUpdate(ctx, `UPDATE commands SET status = 'QUEUED', lease_owner = '', lease_node = '', lease_expires_at = 0, updated_at = $1
		WHERE id = $2 AND status = 'PROCESSING' AND lease_owner = $3`,
		micros(now), id, owner)
}

// ownedUpdate runs an UPDATE guarded by the lease owner and turns "no row
// changed" into ErrLeaseLost.
func (s *Store) ownedUpdate(ctx context.Context, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrLeaseLost
	}
	return nil
}

// FinishCommand implements store.Commands.
func (s *Store) FinishCommand(ctx context.Context, id, owner string, o store.Outcome) error {
	if !o.Status.Final() {
		return fmt.Errorf("postgres: finish with non-final status %s", o.Status)
	}
	fin := micros(o.FinishedAt)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE commands SET
				status = $1, error_status = $2, error_message = $3,
				total_processing_seconds = $4, ffmpeg_run_seconds = $5,
				finished_at = $6, updated_at = $6, lease_owner = '', lease_node = '', lease_expires_at = 0
			WHERE id = $7 AND status = 'PROCESSING' AND lease_owner = $8`,
			o.Status, o.ErrorStatus, o.ErrorMessage, o.TotalProcessingSeconds, o.FFmpegRunSeconds,
			fin, id, owner)
		if err != nil {
			return fmt.Errorf("postgres: finish command: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrLeaseLost
		}
		for _, f := range o.Files {
			if err := insertFile(ctx, tx, f); err != nil {
				return err
			}
		}
		if o.Event != nil {
			return insertEvent(ctx, tx, o.Event)
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrLeaseLost) && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("postgres: finish command: %w", err)
	}
	return err
}

// ClaimableCommands implements store.Commands. Pages are keyed on
// (created_at, id), so a page boundary never skips or repeats a command.
func (s *Store) ClaimableCommands(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	query := `SELECT id FROM commands
		WHERE status IN ('QUEUED', 'PROCESSING') AND (status = 'QUEUED' OR lease_expires_at <= $1)`
	args := []any{micros(now), limit}
	if after != "" {
		query += ` AND (created_at, id) > (SELECT created_at, id FROM commands WHERE id = $3)`
		args = append(args, after)
	}
	query += ` ORDER BY created_at, id LIMIT $2`
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: claimable commands: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: claimable commands: %w", err)
	}
	return ids, nil
}

// ExpireLeases implements store.Commands.
func (s *Store) ExpireLeases(ctx context.Context, node string, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE commands SET lease_expires_at = $1
		WHERE lease_node = $2 AND status = 'PROCESSING' AND lease_expires_at > $1`,
		micros(now), node)
	if err != nil {
		return 0, fmt.Errorf("postgres: expire leases: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
