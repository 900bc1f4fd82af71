-- Aggregated pull events (audit.pulls: aggregate): a row with requests = n
-- (n >= 1) stands for n successful pulls with the same repository,
-- reference, digest, user and client address in the minute starting at
-- `at`; 0 is one request recorded in full (every row before this).
ALTER TABLE audit_events ADD COLUMN requests BIGINT NOT NULL DEFAULT 0;

-- Every instance caches manifest reads (internal/registry/cache.go) and
-- follows, on channel berth_cache, the changes any instance (or any other
-- client of the database) makes, delivered when they commit: 'm' || digest
-- when a manifest is deleted from some repository, 't' || repository when
-- one of its tags is created, moved or deleted ('t' alone when the
-- repository is being deleted too).
CREATE FUNCTION berth_cache_manifest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_cache', 'm' || OLD.digest);
    RETURN NULL;
END $$;
CREATE TRIGGER manifests_cache AFTER DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION berth_cache_manifest();

CREATE FUNCTION berth_cache_tag() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid  BIGINT;
    repo TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        rid := OLD.repository_id;
    ELSE
        rid := NEW.repository_id;
    END IF;
    SELECT name INTO repo FROM repositories WHERE id = rid;
    PERFORM pg_notify('berth_cache', 't' || COALESCE(repo, ''));
    RETURN NULL;
END $$;
CREATE TRIGGER tags_cache AFTER INSERT OR UPDATE OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION berth_cache_tag();
