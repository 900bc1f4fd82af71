-- A disabled builtin user cannot log in or use their access tokens; their
-- memberships stay, for when they are enabled again.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
