-- The PostgreSQL twin of sqlite/migrations/0016_signing.sql.
-- Signature policies (internal/trust): rules per project, trust material
-- (cosign keys, Sigstore trusted roots, notation certificates), the
-- project's policy version (incremented by every change of either) and
-- the verification result per manifest, valid while its version is the
-- project's.

CREATE TABLE signing_rules (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project      TEXT COLLATE "C" NOT NULL,
    repositories TEXT NOT NULL,
    mode         TEXT NOT NULL,
    spec         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX signing_rules_project ON signing_rules (project, id);

CREATE TABLE trust_materials (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project    TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE signing_versions (
    project TEXT COLLATE "C" PRIMARY KEY,
    version BIGINT NOT NULL
);

CREATE TABLE signature_results (
    repository  TEXT COLLATE "C" NOT NULL,
    digest      TEXT COLLATE "C" NOT NULL,
    version     BIGINT NOT NULL,
    result      TEXT NOT NULL,
    verified_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
