-- What the web UI and the browsing API list: when each repository was last
-- pushed (kept by triggers, so the push path runs no extra code), how often
-- repositories were pulled and when each manifest was last pulled
-- (RecordPulls), and indexes for search and "recently pushed".
ALTER TABLE repositories ADD COLUMN pushed_at  BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN pulled_at  BIGINT NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN pulled_at BIGINT NOT NULL DEFAULT 0;

UPDATE repositories SET pushed_at = greatest(created_at,
    coalesce((SELECT max(m.created_at) FROM manifests m WHERE m.repository_id = repositories.id), 0),
    coalesce((SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = repositories.id), 0));

-- The triggers skip a row another transaction is updating (a concurrent
-- push to the same repository sets about the same time): they never wait,
-- so they cannot deadlock two pushes.
CREATE FUNCTION repositories_pushed_manifest() RETURNS trigger AS $$
BEGIN
    UPDATE repositories SET pushed_at = NEW.created_at WHERE id = (SELECT id FROM repositories
        WHERE id = NEW.repository_id AND pushed_at < NEW.created_at FOR NO KEY UPDATE SKIP LOCKED);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE FUNCTION repositories_pushed_tag() RETURNS trigger AS $$
BEGIN
    UPDATE repositories SET pushed_at = NEW.updated_at WHERE id = (SELECT id FROM repositories
        WHERE id = NEW.repository_id AND pushed_at < NEW.updated_at FOR NO KEY UPDATE SKIP LOCKED);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER repositories_pushed_manifest AFTER INSERT ON manifests
    FOR EACH ROW EXECUTE FUNCTION repositories_pushed_manifest();
CREATE TRIGGER repositories_pushed_tag AFTER INSERT OR UPDATE OF manifest_id ON tags
    FOR EACH ROW EXECUTE FUNCTION repositories_pushed_tag();

CREATE INDEX repositories_pushed ON repositories (pushed_at);
CREATE INDEX repositories_pulls ON repositories (pull_count);
CREATE INDEX tags_updated ON tags (updated_at);
