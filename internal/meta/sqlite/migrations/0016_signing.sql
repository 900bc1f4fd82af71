-- Signature policies (internal/trust): rules per project, trust material
-- (cosign keys, Sigstore trusted roots, notation certificates), the
-- project's policy version (incremented by every change of either) and
-- the verification result per manifest, valid while its version is the
-- project's.

CREATE TABLE signing_rules (
    id           INTEGER PRIMARY KEY,
    project      TEXT    NOT NULL,
    repositories TEXT    NOT NULL,
    mode         TEXT    NOT NULL,
    spec         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX signing_rules_project ON signing_rules (project, id);

CREATE TABLE trust_materials (
    id         INTEGER PRIMARY KEY,
    project    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE signing_versions (
    project TEXT    PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE signature_results (
    repository  TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    result      TEXT    NOT NULL,
    verified_at INTEGER NOT NULL,
    PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
