-- Issue 8: progress and cancellation of running commands, and
-- Idempotency-Key records.
--
-- progress_* are the latest progress the command's worker recorded (NULL:
-- none yet, or unknown); a claim clears them. cancel_requested_at is when
-- a cancel was asked of a PROCESSING command (0: never).
ALTER TABLE commands ADD COLUMN progress REAL;
ALTER TABLE commands ADD COLUMN progress_eta_seconds REAL;
ALTER TABLE commands ADD COLUMN progress_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE commands ADD COLUMN cancel_requested_at INTEGER NOT NULL DEFAULT 0;

-- Each engine looks, every second while it runs commands, for cancel
-- requests made through other processes to the commands it runs.
CREATE INDEX commands_cancel_requested ON commands (lease_node)
    WHERE status = 'PROCESSING' AND cancel_requested_at > 0;

-- One row per (account, Idempotency-Key). completed = 0: the first
-- request is still running (its owner holds the key until locked_until).
CREATE TABLE idempotency_keys (
    account_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    owner        TEXT NOT NULL,
    locked_until INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    completed    INTEGER NOT NULL DEFAULT 0,
    request_hash BLOB NOT NULL DEFAULT x'',
    status_code  INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    body         BLOB NOT NULL DEFAULT x'',
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
