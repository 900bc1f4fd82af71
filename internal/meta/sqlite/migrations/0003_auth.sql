-- Access control: users, projects and their members, robot accounts,
-- personal access tokens, token signing keys and system settings.
-- Secrets are stored hashed only (bcrypt for passwords, SHA-256 for the
-- long random secrets of robots and access tokens).

-- Users of the "builtin" authentication mode.
CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- Projects: the first component of repository names. Keyed by name so
-- other features (quotas, retention, proxy caches) can join on it.
CREATE TABLE projects (
    name       TEXT    PRIMARY KEY,
    public     INTEGER NOT NULL DEFAULT 0,
    created_by TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Roles of users (of any authentication mode) and LDAP groups in projects.
CREATE TABLE project_members (
    project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    kind    TEXT NOT NULL,  -- user or group
    name    TEXT NOT NULL,
    role    TEXT NOT NULL,  -- admin, maintainer, developer, guest
    PRIMARY KEY (project, kind, name)
) WITHOUT ROWID;
CREATE INDEX project_members_name ON project_members (kind, name);

-- Robot accounts; project is '' for system robots. permissions is JSON:
-- [{"project":"team-a","actions":["pull","push"]}].
CREATE TABLE robots (
    name        TEXT    PRIMARY KEY,
    project     TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    secret_hash TEXT    NOT NULL,
    permissions TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX robots_project ON robots (project, name);

-- Personal access tokens.
CREATE TABLE access_tokens (
    id          TEXT    PRIMARY KEY,
    user_name   TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_name, name)
) WITHOUT ROWID;

-- Token signing keys; retired_at = 0 marks the current one.
CREATE TABLE signing_keys (
    id          TEXT    PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
