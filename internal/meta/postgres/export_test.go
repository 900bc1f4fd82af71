package postgres

// MigrationLock is the advisory lock key, for the test that holds it.
const MigrationLock = migrationLock
