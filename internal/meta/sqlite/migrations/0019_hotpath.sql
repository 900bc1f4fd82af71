-- Aggregated pull events (audit.pulls: aggregate): a row with requests = n
-- (n >= 1) stands for n successful pulls with the same repository,
-- reference, digest, user and client address in the minute starting at
-- `at`; 0 is one request recorded in full (every row before this).
ALTER TABLE audit_events ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;
