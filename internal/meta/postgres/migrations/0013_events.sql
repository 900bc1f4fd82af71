-- The PostgreSQL twin of sqlite/migrations/0013_events.sql; event_repo_seq
-- holds the per-repository counter (its row lock orders one repository's
-- events by commit).
-- Durable events (docs/events.md): the outbox, written in the same
-- transaction as the change it records; webhook subscriptions and the
-- built-in consumers; one delivery per (subscription, event) with its
-- lease, back-off and status; and every delivery attempt. Times are Unix
-- nanoseconds.
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    type        TEXT COLLATE "C" NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL DEFAULT '',
    repo_seq    BIGINT  NOT NULL,
    project     TEXT COLLATE "C" NOT NULL DEFAULT '',
    digest      TEXT COLLATE "C" NOT NULL DEFAULT '',
    media_type  TEXT COLLATE "C" NOT NULL DEFAULT '',
    tags        TEXT COLLATE "C" NOT NULL DEFAULT '',
    actor       TEXT COLLATE "C" NOT NULL DEFAULT '',
    origin      TEXT COLLATE "C" NOT NULL DEFAULT '',
    data        TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    dispatched  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX events_repo_seq ON events (repository, repo_seq);
CREATE INDEX events_undispatched ON events (seq) WHERE NOT dispatched;
CREATE INDEX events_created ON events (created_at);

CREATE TABLE event_subscriptions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT COLLATE "C" NOT NULL DEFAULT 'webhook',
    project         TEXT COLLATE "C" NOT NULL DEFAULT '',
    name            TEXT COLLATE "C" NOT NULL,
    url             TEXT COLLATE "C" NOT NULL DEFAULT '',
    types           TEXT COLLATE "C" NOT NULL DEFAULT '',
    repository_glob TEXT COLLATE "C" NOT NULL DEFAULT '',
    tag_pattern     TEXT COLLATE "C" NOT NULL DEFAULT '',
    media_type      TEXT COLLATE "C" NOT NULL DEFAULT '',
    format          TEXT COLLATE "C" NOT NULL DEFAULT '',
    secrets         TEXT COLLATE "C" NOT NULL DEFAULT '',
    headers         TEXT COLLATE "C" NOT NULL DEFAULT '',
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_by      TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (kind, project, name)
);

CREATE TABLE event_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id BIGINT  NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
    event_seq       BIGINT  NOT NULL,
    repository      TEXT COLLATE "C" NOT NULL,
    repo_seq        BIGINT  NOT NULL,
    status          TEXT COLLATE "C" NOT NULL DEFAULT 'pending',
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_at         BIGINT  NOT NULL,
    lease_owner     TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    last_status     BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (subscription_id, event_seq)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_queue ON event_deliveries (subscription_id, repository, repo_seq) WHERE status = 'pending';
CREATE INDEX event_deliveries_event ON event_deliveries (event_seq);
CREATE INDEX event_deliveries_list ON event_deliveries (subscription_id, id);

CREATE TABLE event_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT  NOT NULL REFERENCES event_deliveries (id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    duration_ns BIGINT  NOT NULL,
    status_code BIGINT  NOT NULL DEFAULT 0,
    error       TEXT COLLATE "C" NOT NULL DEFAULT '',
    response    TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX event_attempts_delivery ON event_attempts (delivery_id, id);

CREATE TABLE event_repo_seq (
    repository TEXT COLLATE "C" PRIMARY KEY,
    seq        BIGINT NOT NULL
);
-- One row every dispatcher locks, so outbox events become deliveries in
-- one order across instances.
CREATE TABLE event_dispatch_lock (id INT PRIMARY KEY);
INSERT INTO event_dispatch_lock VALUES (1);
