-- Vulnerability scanning (internal/scan): the package list extracted from
-- each image manifest, the newest scan result of each manifest (with the
-- summary the pull gate reads in one lookup), and the scanning policies
-- ('' is the system-wide one). Times in Unix nanoseconds.
CREATE TABLE scan_packages (
    digest       TEXT    PRIMARY KEY,
    extractor    TEXT    NOT NULL,
    extracted_at INTEGER NOT NULL,
    data         BLOB    NOT NULL
);
CREATE TABLE scan_results (
    digest     TEXT    PRIMARY KEY,
    scanner    TEXT    NOT NULL,
    db_version TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    severity   INTEGER NOT NULL DEFAULT 0,
    max_cvss   REAL    NOT NULL DEFAULT 0,
    worst      TEXT    NOT NULL DEFAULT '',
    findings   INTEGER NOT NULL DEFAULT 0,
    scanned_at INTEGER NOT NULL,
    error      TEXT    NOT NULL DEFAULT '',
    summary    BLOB    NOT NULL,
    report     BLOB    NOT NULL
);
CREATE INDEX scan_results_db_version ON scan_results (db_version);
CREATE TABLE scan_policies (
    project TEXT PRIMARY KEY,
    data    BLOB NOT NULL
);
