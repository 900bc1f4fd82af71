-- Users who log in through an OpenID Connect provider: a row in users
-- (password_hash '!external': no password here) linked to the provider's
-- account (issuer, subject), with the groups and admin flag of their last
-- login. Access tokens and memberships use the users row as for others.
CREATE TABLE oidc_identities (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_name  TEXT    NOT NULL UNIQUE REFERENCES users (name) ON DELETE CASCADE,
    email      TEXT    NOT NULL DEFAULT '',
    groups     TEXT    NOT NULL DEFAULT '[]',  -- JSON array of names
    admin      INTEGER NOT NULL DEFAULT 0,
    last_login INTEGER NOT NULL,
    -- the provider's refresh token, for auth.oidc.refresh_interval's
    -- periodic check of the groups ('' when off or none was given)
    refresh_token TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (issuer, subject)
) WITHOUT ROWID;

-- Network rules: the source networks (JSON arrays of CIDRs; empty: any)
-- that may pull and push, per project (scope 'project:NAME') and per
-- robot account (scope 'robot:NAME'). A rule goes with its project or
-- robot (the manager deletes it with them).
CREATE TABLE network_rules (
    scope      TEXT    PRIMARY KEY,
    pull       TEXT    NOT NULL DEFAULT '[]',
    push       TEXT    NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Manifest pulls per rate-limit key (user, robot, address, project) and
-- hour, added to by every instance every few seconds (rate_limit.sync).
CREATE TABLE rate_counts (
    key        TEXT    NOT NULL,
    window_at  INTEGER NOT NULL,  -- start of the hour, Unix seconds
    count      INTEGER NOT NULL,
    PRIMARY KEY (key, window_at)
) WITHOUT ROWID;
