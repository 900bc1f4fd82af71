package postgres

// MigrationLock is the advisory lock key, for the test that holds it.
const MigrationLock = migrationLock

// QUsage is the usage query, for EXPLAIN in tests.
const QUsage = qUsage

// ParseCacheChange reads a berth_cache notification, for its fuzz target.
var ParseCacheChange = parseCacheChange
