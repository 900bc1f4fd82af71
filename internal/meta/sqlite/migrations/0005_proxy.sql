-- Pull-through cache bookkeeping (internal/proxy). Cached content itself is
-- in the ordinary tables; these say when a cached tag was last confirmed
-- with its upstream and when a cached manifest was last pulled (the least
-- recently pulled are evicted first). Times are Unix nanoseconds.
CREATE TABLE proxy_tags (
    repository_id INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    checked_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, name) REFERENCES tags (repository_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE proxy_manifests (
    manifest_id INTEGER PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
    pulled_at   INTEGER NOT NULL
);
CREATE INDEX proxy_manifests_pulled ON proxy_manifests (pulled_at);
