-- Web UI log-in sessions (times in Unix nanoseconds). id is the SHA-256
-- of the cookie's secret; the secret is not stored.
CREATE TABLE ui_sessions (
    id         TEXT    PRIMARY KEY,
    username   TEXT    NOT NULL,
    source     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ui_sessions_user ON ui_sessions (username);
CREATE INDEX ui_sessions_last_seen ON ui_sessions (last_seen);
