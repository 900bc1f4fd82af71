-- Durable events (docs/events.md): the outbox, written in the same
-- transaction as the change it records; webhook subscriptions and the
-- built-in consumers; one delivery per (subscription, event) with its
-- lease, back-off and status; and every delivery attempt. Times are Unix
-- nanoseconds.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    type        TEXT    NOT NULL,
    repository  TEXT    NOT NULL DEFAULT '',
    repo_seq    INTEGER NOT NULL,
    project     TEXT    NOT NULL DEFAULT '',
    digest      TEXT    NOT NULL DEFAULT '',
    media_type  TEXT    NOT NULL DEFAULT '',
    tags        TEXT    NOT NULL DEFAULT '',
    actor       TEXT    NOT NULL DEFAULT '',
    origin      TEXT    NOT NULL DEFAULT '',
    data        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    dispatched  INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX events_repo_seq ON events (repository, repo_seq);
CREATE INDEX events_undispatched ON events (seq) WHERE dispatched = 0;
CREATE INDEX events_created ON events (created_at);

CREATE TABLE event_subscriptions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL DEFAULT 'webhook',
    project         TEXT    NOT NULL DEFAULT '',
    name            TEXT    NOT NULL,
    url             TEXT    NOT NULL DEFAULT '',
    types           TEXT    NOT NULL DEFAULT '',
    repository_glob TEXT    NOT NULL DEFAULT '',
    tag_pattern     TEXT    NOT NULL DEFAULT '',
    media_type      TEXT    NOT NULL DEFAULT '',
    format          TEXT    NOT NULL DEFAULT '',
    secrets         TEXT    NOT NULL DEFAULT '',
    headers         TEXT    NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_by      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (kind, project, name)
);

CREATE TABLE event_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id INTEGER NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL,
    repository      TEXT    NOT NULL,
    repo_seq        INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (subscription_id, event_seq)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_queue ON event_deliveries (subscription_id, repository, repo_seq) WHERE status = 'pending';
CREATE INDEX event_deliveries_event ON event_deliveries (event_seq);
CREATE INDEX event_deliveries_list ON event_deliveries (subscription_id, id);

CREATE TABLE event_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES event_deliveries (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    response    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX event_attempts_delivery ON event_attempts (delivery_id, id);
