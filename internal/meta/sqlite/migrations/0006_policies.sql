-- Per-project policies (internal/policy): tag immutability rules, quotas,
-- retention rules and the record of retention runs. Projects are the first
-- path component of repository names, kept by name so that the rules work
-- with or without a projects table.

CREATE TABLE immutable_rules (
    id           INTEGER PRIMARY KEY,
    project      TEXT    NOT NULL,
    repositories TEXT    NOT NULL,
    tags         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX immutable_rules_project ON immutable_rules (project, id);

-- Limits: -1 is no limit.
CREATE TABLE quotas (
    project       TEXT    PRIMARY KEY,
    storage_bytes INTEGER NOT NULL,
    repositories  INTEGER NOT NULL,
    manifests     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- rules is the JSON document internal/policy reads.
CREATE TABLE retention_policies (
    project    TEXT    PRIMARY KEY,
    rules      TEXT    NOT NULL,
    schedule   TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE retention_runs (
    id          INTEGER PRIMARY KEY,
    project     TEXT    NOT NULL,
    trigger     TEXT    NOT NULL,
    dry_run     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    summary     TEXT    NOT NULL
);
CREATE INDEX retention_runs_project ON retention_runs (project, id);

-- "Does the project hold this manifest" looks manifests up by digest alone.
CREATE INDEX manifests_digest ON manifests (digest);
