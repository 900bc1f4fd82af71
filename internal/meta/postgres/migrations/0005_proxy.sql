-- The PostgreSQL twin of sqlite/migrations/0005_proxy.sql: pull-through
-- cache bookkeeping (internal/proxy). Times are Unix nanoseconds.
CREATE TABLE proxy_tags (
    repository_id BIGINT NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    checked_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, name) REFERENCES tags (repository_id, name) ON DELETE CASCADE
);

CREATE TABLE proxy_manifests (
    manifest_id BIGINT PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
    pulled_at   BIGINT NOT NULL
);
CREATE INDEX proxy_manifests_pulled ON proxy_manifests (pulled_at);
