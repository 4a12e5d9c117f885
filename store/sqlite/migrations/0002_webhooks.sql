-- One webhook per account. The secret is kept because signing needs it.
CREATE TABLE webhook_configs (
    account_id           TEXT PRIMARY KEY REFERENCES accounts(id),
    url                  TEXT NOT NULL,
    secret               TEXT NOT NULL DEFAULT '',
    is_active            INTEGER NOT NULL DEFAULT 1,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_at          INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per announcement of a finished command. payload is the exact body.
CREATE TABLE webhook_events (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts(id),
    command_id         TEXT NOT NULL,
    url                TEXT NOT NULL,
    secret             TEXT NOT NULL DEFAULT '',
    to_account_webhook INTEGER NOT NULL,
    payload            BLOB NOT NULL,
    state              TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL,
    next_attempt_at    INTEGER NOT NULL DEFAULT 0,
    lease_owner        TEXT NOT NULL DEFAULT '',
    lease_expires_at   INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
-- Senders look only at pending events, by the time they become claimable
-- (their due time, or the expiry of the lease of an attempt in flight).
CREATE INDEX webhook_events_due ON webhook_events (max(next_attempt_at, lease_expires_at))
    WHERE state = 'PENDING';
CREATE INDEX webhook_events_by_account ON webhook_events (account_id, state) WHERE state = 'PENDING';

-- The delivery log: one row per attempt (attempt 0: an event not sent at all).
CREATE TABLE webhook_deliveries (
    id            TEXT PRIMARY KEY,
    event_id      TEXT NOT NULL REFERENCES webhook_events(id),
    account_id    TEXT NOT NULL,
    command_id    TEXT NOT NULL,
    url           TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    attempt_at    INTEGER NOT NULL,
    finished      INTEGER NOT NULL DEFAULT 0,
    success       INTEGER NOT NULL DEFAULT 0,
    status_code   INTEGER NOT NULL DEFAULT 0,
    latency_us    INTEGER NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',
    response_body BLOB NOT NULL DEFAULT x''
);
-- Pages are newest first by rowid (insertion order).
CREATE INDEX webhook_deliveries_by_account ON webhook_deliveries (account_id);
CREATE INDEX webhook_deliveries_by_command ON webhook_deliveries (account_id, command_id);
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (event_id) WHERE finished = 0;
