-- What the web UI and the browsing API list: when each repository was last
-- pushed (kept by triggers, so the push path runs no extra code), how often
-- repositories were pulled and when each manifest was last pulled
-- (RecordPulls), and indexes for search and "recently pushed".
ALTER TABLE repositories ADD COLUMN pushed_at  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN pulled_at  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN pulled_at INTEGER NOT NULL DEFAULT 0;

UPDATE repositories SET pushed_at = max(created_at,
    coalesce((SELECT max(m.created_at) FROM manifests m WHERE m.repository_id = repositories.id), 0),
    coalesce((SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = repositories.id), 0));

CREATE TRIGGER repositories_pushed_manifest AFTER INSERT ON manifests BEGIN
    UPDATE repositories SET pushed_at = NEW.created_at WHERE id = NEW.repository_id AND pushed_at < NEW.created_at;
END;
CREATE TRIGGER repositories_pushed_tag AFTER INSERT ON tags BEGIN
    UPDATE repositories SET pushed_at = NEW.updated_at WHERE id = NEW.repository_id AND pushed_at < NEW.updated_at;
END;
CREATE TRIGGER repositories_pushed_retag AFTER UPDATE OF manifest_id ON tags BEGIN
    UPDATE repositories SET pushed_at = NEW.updated_at WHERE id = NEW.repository_id AND pushed_at < NEW.updated_at;
END;

CREATE INDEX repositories_pushed ON repositories (pushed_at);
CREATE INDEX repositories_pulls ON repositories (pull_count);
CREATE INDEX tags_updated ON tags (updated_at);
