-- Presets (issue 6): saved command templates of an account. body is JSON
-- (ffmpeg_commands, input_file_keys, output_files, metadata) kept byte for
-- byte, as the SQLite store keeps it; times are Unix microseconds.
CREATE TABLE presets (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    command_type TEXT NOT NULL,
    body         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Listing an account's presets, newest first.
CREATE INDEX presets_by_account ON presets (account_id, created_at DESC, id DESC);
