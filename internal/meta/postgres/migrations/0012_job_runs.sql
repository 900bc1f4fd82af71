-- The PostgreSQL twin of sqlite/migrations/0012_job_runs.sql.
-- The history of background jobs: the last finished runs of each job with
-- their reports (meta.JobRunsKept per job; FinishJob deletes older ones
-- as it adds one). Times are Unix nanoseconds.
CREATE TABLE job_runs (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    started_at  BIGINT  NOT NULL DEFAULT 0,
    finished_at BIGINT  NOT NULL,
    report      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX job_runs_name ON job_runs (name, id);
