-- Accounts own keys, commands and files.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- Only SHA-256 hashes of API keys are stored.
CREATE TABLE api_keys (
    key_hash   BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL
);

-- Times are Unix microseconds (UTC), 0 for "none", as in the SQLite store.
-- request, spec and outputs are JSON kept byte for byte (BYTEA, not JSONB:
-- original_request must echo exactly what the client sent).
CREATE TABLE commands (
    id                       TEXT PRIMARY KEY,
    account_id               TEXT NOT NULL REFERENCES accounts(id),
    command_type             TEXT NOT NULL,
    status                   TEXT NOT NULL,
    request                  BYTEA NOT NULL,
    spec                     BYTEA NOT NULL,
    outputs                  BYTEA NOT NULL,
    error_status             TEXT NOT NULL DEFAULT '',
    error_message            TEXT NOT NULL DEFAULT '',
    total_processing_seconds DOUBLE PRECISION,
    ffmpeg_run_seconds       DOUBLE PRECISION,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    claimed_at               BIGINT NOT NULL DEFAULT 0,
    finished_at              BIGINT NOT NULL DEFAULT 0,
    lease_owner              TEXT NOT NULL DEFAULT '',
    lease_node               TEXT NOT NULL DEFAULT '',
    lease_expires_at         BIGINT NOT NULL DEFAULT 0,
    attempts                 INTEGER NOT NULL DEFAULT 0,
    lost_leases              INTEGER NOT NULL DEFAULT 0
);

-- Listing: an account's commands, newest first, optionally by status.
CREATE INDEX commands_by_account ON commands (account_id, created_at DESC, id DESC);
CREATE INDEX commands_by_account_status ON commands (account_id, status, created_at DESC, id DESC);
-- Recovery sweeps and the per-account cap: only unfinished commands.
CREATE INDEX commands_unfinished ON commands (created_at, id)
    WHERE status IN ('QUEUED', 'PROCESSING');
CREATE INDEX commands_running_by_account ON commands (account_id, lease_expires_at)
    WHERE status = 'PROCESSING';
CREATE INDEX commands_by_lease_node ON commands (lease_node) WHERE lease_node <> '';

-- The Postgres queue (postgres.Queue): ids of commands to hand to a
-- worker. A row is a hint, like a message on a broker: the commands table
-- decides who runs what. CreateCommand inserts the row in the transaction
-- that records the command (when the store's queue is in use), and a
-- worker takes one with DELETE … FOR UPDATE SKIP LOCKED. Rows are taken in
-- the order their commands were created (queued_at; push time for an id
-- that is not a command), so a command re-queued after its worker died
-- runs before the backlog that arrived after it.
CREATE TABLE queue_jobs (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY,
    id        TEXT PRIMARY KEY,
    queued_at BIGINT NOT NULL
);
CREATE INDEX queue_jobs_order ON queue_jobs (queued_at, seq);

CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    command_id    TEXT NOT NULL DEFAULT '',
    alias         TEXT NOT NULL DEFAULT '',
    file_name     TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    status        TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL DEFAULT 0,
    info          BYTEA NOT NULL,
    is_deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    original_url  TEXT NOT NULL DEFAULT '',
    error_status  TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX files_by_command ON files (command_id) WHERE command_id <> '';
CREATE INDEX files_by_account ON files (account_id, created_at DESC, id DESC);
