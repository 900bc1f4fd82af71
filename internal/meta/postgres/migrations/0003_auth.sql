-- The PostgreSQL twin of sqlite/migrations/0003_auth.sql.
-- Access control: users, projects and their members, robot accounts,
-- personal access tokens, token signing keys and system settings.
-- Secrets are stored hashed only (bcrypt for passwords, SHA-256 for the
-- long random secrets of robots and access tokens).

-- Users of the "builtin" authentication mode.
CREATE TABLE users (
    name          TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Projects: the first component of repository names. Keyed by name so
-- other features (quotas, retention, proxy caches) can join on it.
CREATE TABLE projects (
    name       TEXT COLLATE "C" PRIMARY KEY,
    public     BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- Roles of users (of any authentication mode) and LDAP groups in projects.
CREATE TABLE project_members (
    project TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    kind    TEXT COLLATE "C" NOT NULL,  -- user or group
    name    TEXT COLLATE "C" NOT NULL,
    role    TEXT NOT NULL,              -- admin, maintainer, developer, guest
    PRIMARY KEY (project, kind, name)
);
CREATE INDEX project_members_name ON project_members (kind, name);

-- Robot accounts; project is '' for system robots. permissions is JSON:
-- [{"project":"team-a","actions":["pull","push"]}].
CREATE TABLE robots (
    name        TEXT COLLATE "C" PRIMARY KEY,
    project     TEXT COLLATE "C" NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    permissions TEXT NOT NULL,
    expires_at  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
CREATE INDEX robots_project ON robots (project, name);

-- Personal access tokens.
CREATE TABLE access_tokens (
    id          TEXT COLLATE "C" PRIMARY KEY,
    user_name   TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    secret_hash TEXT NOT NULL,
    expires_at  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    UNIQUE (user_name, name)
);

-- Token signing keys; retired_at = 0 marks the current one.
CREATE TABLE signing_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE settings (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);
