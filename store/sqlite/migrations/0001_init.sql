-- Accounts own keys, commands and files.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- Only SHA-256 hashes of API keys are stored.
CREATE TABLE api_keys (
    key_hash   BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Times are Unix microseconds (UTC). spec, outputs and request are JSON.
CREATE TABLE commands (
    id                       TEXT PRIMARY KEY,
    account_id               TEXT NOT NULL REFERENCES accounts(id),
    command_type             TEXT NOT NULL,
    status                   TEXT NOT NULL,
    request                  BLOB NOT NULL,
    spec                     BLOB NOT NULL,
    outputs                  BLOB NOT NULL,
    error_status             TEXT NOT NULL DEFAULT '',
    error_message            TEXT NOT NULL DEFAULT '',
    total_processing_seconds REAL,
    ffmpeg_run_seconds       REAL,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    claimed_at               INTEGER NOT NULL DEFAULT 0,
    finished_at              INTEGER NOT NULL DEFAULT 0,
    lease_owner              TEXT NOT NULL DEFAULT '',
    lease_node               TEXT NOT NULL DEFAULT '',
    lease_expires_at         INTEGER NOT NULL DEFAULT 0,
    attempts                 INTEGER NOT NULL DEFAULT 0,
    lost_leases              INTEGER NOT NULL DEFAULT 0
);

-- Listing: an account's commands, newest first, optionally by status.
CREATE INDEX commands_by_account ON commands (account_id, created_at DESC, id DESC);
CREATE INDEX commands_by_account_status ON commands (account_id, status, created_at DESC, id DESC);
-- Recovery sweeps: only unfinished commands are indexed.
CREATE INDEX commands_unfinished ON commands (status, lease_expires_at, created_at)
    WHERE status IN ('QUEUED', 'PROCESSING');
CREATE INDEX commands_by_lease_node ON commands (lease_node) WHERE lease_node <> '';

CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    command_id    TEXT NOT NULL DEFAULT '',
    alias         TEXT NOT NULL DEFAULT '',
    file_name     TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    status        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL DEFAULT 0,
    info          BLOB NOT NULL,
    is_deleted    INTEGER NOT NULL DEFAULT 0,
    original_url  TEXT NOT NULL DEFAULT '',
    error_status  TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX files_by_command ON files (command_id) WHERE command_id <> '';
CREATE INDEX files_by_account ON files (account_id, created_at DESC, id DESC);
