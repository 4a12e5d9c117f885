-- The files API (issue 4): deleting is two steps, marking the row deleted
-- (is_deleted, a conditional write that only one process wins) and then
-- deleting its bytes from the bucket. blob_purged records the second step,
-- so that a sweep finishes the deletes of a process that died in between.
-- It means nothing while is_deleted is false.
ALTER TABLE files ADD COLUMN blob_purged BOOLEAN NOT NULL DEFAULT FALSE;

-- Retention sweeps: live files, oldest first.
CREATE INDEX files_live_by_age ON files (created_at, id) WHERE NOT is_deleted;
-- Purge retries: deleted files whose bytes may still exist.
CREATE INDEX files_unpurged ON files (updated_at, id) WHERE is_deleted AND NOT blob_purged;
-- Stale fetches: PROCESSING files whose fetching process died.
CREATE INDEX files_processing ON files (updated_at) WHERE status = 'PROCESSING' AND NOT is_deleted;
