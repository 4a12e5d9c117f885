-- One webhook per account. The secret is kept because signing needs it.
CREATE TABLE webhook_configs (
    account_id           TEXT PRIMARY KEY REFERENCES accounts(id),
    url                  TEXT NOT NULL,
    secret               TEXT NOT NULL DEFAULT '',
    is_active            BOOLEAN NOT NULL DEFAULT TRUE,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_at          BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

-- One row per announcement of a finished command. payload is the exact body.
CREATE TABLE webhook_events (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts(id),
    command_id         TEXT NOT NULL,
    url                TEXT NOT NULL,
    secret             TEXT NOT NULL DEFAULT '',
    to_account_webhook BOOLEAN NOT NULL,
    payload            BYTEA NOT NULL,
    state              TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL,
    next_attempt_at    BIGINT NOT NULL DEFAULT 0,
    lease_owner        TEXT NOT NULL DEFAULT '',
    lease_expires_at   BIGINT NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
-- Senders look only at pending events, by the time they become claimable
-- (their due time, or the expiry of the lease of an attempt in flight).
CREATE INDEX webhook_events_due ON webhook_events (GREATEST(next_attempt_at, lease_expires_at))
    WHERE state = 'PENDING';
CREATE INDEX webhook_events_by_account ON webhook_events (account_id, state) WHERE state = 'PENDING';

-- The delivery log: one row per attempt (attempt 0: an event not sent at all).
-- seq orders pages newest first (SQLite uses its rowid).
CREATE TABLE webhook_deliveries (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    id            TEXT PRIMARY KEY,
    event_id      TEXT NOT NULL REFERENCES webhook_events(id),
    account_id    TEXT NOT NULL,
    command_id    TEXT NOT NULL,
    url           TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    attempt_at    BIGINT NOT NULL,
    finished      BOOLEAN NOT NULL DEFAULT FALSE,
    success       BOOLEAN NOT NULL DEFAULT FALSE,
    status_code   INTEGER NOT NULL DEFAULT 0,
    latency_us    BIGINT NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',
    response_body BYTEA NOT NULL DEFAULT ''::bytea
);
CREATE INDEX webhook_deliveries_by_account ON webhook_deliveries (account_id, seq DESC);
CREATE INDEX webhook_deliveries_by_command ON webhook_deliveries (account_id, command_id, seq DESC);
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (event_id) WHERE NOT finished;
