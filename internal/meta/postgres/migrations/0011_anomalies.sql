-- Pull-anomaly detection (internal/anomaly): baselines, the position in
-- the audit log, and findings (times in Unix nanoseconds).
CREATE TABLE anomaly_profiles (
    key  TEXT PRIMARY KEY,
    data BYTEA NOT NULL
);
CREATE TABLE anomaly_cursor (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    last_id BIGINT  NOT NULL
);
CREATE TABLE anomaly_findings (
    id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    identity   TEXT    NOT NULL,
    repository TEXT    NOT NULL DEFAULT '',
    client_ip  TEXT    NOT NULL DEFAULT '',
    reason     TEXT    NOT NULL,
    event_id   BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX anomaly_findings_identity ON anomaly_findings (identity, id);
CREATE INDEX anomaly_findings_kind ON anomaly_findings (kind, id);
CREATE INDEX anomaly_findings_at ON anomaly_findings (at);
