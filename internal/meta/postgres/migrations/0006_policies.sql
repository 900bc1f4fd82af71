-- The PostgreSQL twin of sqlite/migrations/0006_policies.sql.
-- Per-project policies (internal/policy): tag immutability rules, quotas,
-- retention rules and the record of retention runs. Projects are the first
-- path component of repository names, kept by name so that the rules work
-- with or without a projects table.

CREATE TABLE immutable_rules (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project      TEXT COLLATE "C" NOT NULL,
    repositories TEXT NOT NULL,
    tags         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX immutable_rules_project ON immutable_rules (project, id);

-- Limits: -1 is no limit.
CREATE TABLE quotas (
    project       TEXT COLLATE "C" PRIMARY KEY,
    storage_bytes BIGINT NOT NULL,
    repositories  BIGINT NOT NULL,
    manifests     BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- rules is the JSON document internal/policy reads.
CREATE TABLE retention_policies (
    project    TEXT COLLATE "C" PRIMARY KEY,
    rules      TEXT NOT NULL,
    schedule   TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

CREATE TABLE retention_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project     TEXT COLLATE "C" NOT NULL,
    trigger     TEXT NOT NULL,
    dry_run     BOOLEAN NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    status      TEXT NOT NULL,
    summary     TEXT NOT NULL
);
CREATE INDEX retention_runs_project ON retention_runs (project, id);

-- "Does the project hold this manifest" looks manifests up by digest alone.
CREATE INDEX manifests_digest ON manifests (digest);
