-- Replication: registries and rules (JSON documents owned by
-- internal/replication), runs, and one task per artifact of a run, leased
-- by the instance working on it. Times are Unix nanoseconds (0: never).
CREATE TABLE replication_configs (
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    spec       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE replication_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule        TEXT    NOT NULL,
    via         TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    request     TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX replication_runs_rule ON replication_runs (rule, id);
CREATE INDEX replication_runs_status ON replication_runs (status, id);
CREATE TABLE replication_tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES replication_runs (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    dest        TEXT    NOT NULL,
    ref         TEXT    NOT NULL,
    digest      TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    bytes       INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX replication_tasks_run ON replication_tasks (run_id, status, id);
