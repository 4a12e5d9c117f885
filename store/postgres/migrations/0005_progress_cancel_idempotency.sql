-- Issue 8: progress and cancellation of running commands, and
-- Idempotency-Key records (the SQLite store's migration 0005, in
-- PostgreSQL's types).
--
-- progress_* are the latest progress the command's worker recorded (NULL:
-- none yet, or unknown); a claim clears them. cancel_requested_at is when
-- a cancel was asked of a PROCESSING command (0: never).
ALTER TABLE commands ADD COLUMN progress DOUBLE PRECISION;
ALTER TABLE commands ADD COLUMN progress_eta_seconds DOUBLE PRECISION;
ALTER TABLE commands ADD COLUMN progress_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE commands ADD COLUMN cancel_requested_at BIGINT NOT NULL DEFAULT 0;

-- Each engine looks, every second while it runs commands, for cancel
-- requests made through other processes to the commands it runs.
CREATE INDEX commands_cancel_requested ON commands (lease_node)
    WHERE status = 'PROCESSING' AND cancel_requested_at > 0;

-- One row per (account, Idempotency-Key). completed false: the first
-- request is still running (its owner holds the key until locked_until).
CREATE TABLE idempotency_keys (
    account_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    owner        TEXT NOT NULL,
    locked_until BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    completed    BOOLEAN NOT NULL DEFAULT FALSE,
    request_hash BYTEA NOT NULL DEFAULT ''::bytea,
    status_code  INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    body         BYTEA NOT NULL DEFAULT ''::bytea,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
