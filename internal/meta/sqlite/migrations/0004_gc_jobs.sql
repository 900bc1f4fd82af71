-- Background jobs (garbage collection, scrub, retention, ...): the lease
-- that makes one instance at a time run each job, the resumable progress
-- of the run in flight, the last run's report, and on-demand requests.
-- Times are Unix nanoseconds; 0 is "never".
CREATE TABLE jobs (
    name         TEXT    PRIMARY KEY,
    lease_owner  TEXT    NOT NULL DEFAULT '',
    lease_until  INTEGER NOT NULL DEFAULT 0,
    running      INTEGER NOT NULL DEFAULT 0,
    progress     TEXT    NOT NULL DEFAULT '',
    requested_at INTEGER NOT NULL DEFAULT 0,
    request      TEXT    NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL DEFAULT 0,
    finished_at  INTEGER NOT NULL DEFAULT 0,
    report       TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Garbage collection: a blob row with deleting <> 0 is a tombstone: its
-- file is being deleted, and no push may link or re-create it until the
-- row is gone.
ALTER TABLE blobs ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;
CREATE INDEX blobs_deleting ON blobs (digest) WHERE deleting <> 0;
-- Stale upload sessions are found by their last write.
CREATE INDEX uploads_updated ON uploads (updated_at);
