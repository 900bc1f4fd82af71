-- The history of background jobs: the last finished runs of each job with
-- their reports (meta.JobRunsKept per job; FinishJob deletes older ones
-- as it adds one). Times are Unix nanoseconds.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    started_at  INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER NOT NULL,
    report      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX job_runs_name ON job_runs (name, id);
