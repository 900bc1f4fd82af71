-- The PostgreSQL twin of sqlite/migrations/0014_replication.sql.
-- Replication: registries and rules (JSON documents owned by
-- internal/replication), runs, and one task per artifact of a run, leased
-- by the instance working on it. Times are Unix nanoseconds (0: never).
CREATE TABLE replication_configs (
    kind       TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    spec       TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE replication_runs (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule        TEXT COLLATE "C" NOT NULL,
    via         TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    request     TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    finished_at BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX replication_runs_rule ON replication_runs (rule, id);
CREATE INDEX replication_runs_status ON replication_runs (status, id);
CREATE TABLE replication_tasks (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      BIGINT  NOT NULL REFERENCES replication_runs (id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C" NOT NULL,
    source      TEXT COLLATE "C" NOT NULL,
    dest        TEXT COLLATE "C" NOT NULL,
    ref         TEXT COLLATE "C" NOT NULL,
    digest      TEXT    NOT NULL DEFAULT '',
    status      TEXT COLLATE "C" NOT NULL,
    attempt     BIGINT  NOT NULL DEFAULT 0,
    next_at     BIGINT  NOT NULL DEFAULT 0,
    lease_owner TEXT    NOT NULL DEFAULT '',
    lease_until BIGINT  NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    bytes       BIGINT  NOT NULL DEFAULT 0,
    updated_at  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX replication_tasks_run ON replication_tasks (run_id, status, id);
