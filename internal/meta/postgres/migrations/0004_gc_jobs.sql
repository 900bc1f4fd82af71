-- The PostgreSQL twin of sqlite/migrations/0004_gc_jobs.sql.
-- Background jobs (garbage collection, scrub, retention, ...): the lease
-- that makes one instance at a time run each job, the resumable progress
-- of the run in flight, the last run's report, and on-demand requests.
-- Times are Unix nanoseconds; 0 is "never".
CREATE TABLE jobs (
    name         TEXT COLLATE "C" PRIMARY KEY,
    lease_owner  TEXT    NOT NULL DEFAULT '',
    lease_until  BIGINT  NOT NULL DEFAULT 0,
    running      BOOLEAN NOT NULL DEFAULT false,
    progress     TEXT    NOT NULL DEFAULT '',
    requested_at BIGINT  NOT NULL DEFAULT 0,
    request      TEXT    NOT NULL DEFAULT '',
    started_at   BIGINT  NOT NULL DEFAULT 0,
    finished_at  BIGINT  NOT NULL DEFAULT 0,
    report       TEXT    NOT NULL DEFAULT ''
);

-- Garbage collection: a blob row with deleting = true is a tombstone: its
-- file is being deleted, and no push may link or re-create it until the
-- row is gone.
ALTER TABLE blobs ADD COLUMN deleting BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX blobs_deleting ON blobs (digest) WHERE deleting;
-- Stale upload sessions are found by their last write.
CREATE INDEX uploads_updated ON uploads (updated_at);
