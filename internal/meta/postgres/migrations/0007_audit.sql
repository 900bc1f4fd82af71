-- The audit log: one row per audited request (times in Unix nanoseconds).
CREATE TABLE audit_events (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    action      TEXT    NOT NULL,
    username    TEXT    NOT NULL DEFAULT '',
    repository  TEXT    NOT NULL DEFAULT '',
    reference   TEXT    NOT NULL DEFAULT '',
    digest      TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    duration_ns BIGINT  NOT NULL DEFAULT 0,
    client_ip   TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (username, id);
CREATE INDEX audit_events_repository ON audit_events (repository, id);
