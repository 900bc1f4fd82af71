//go:build race

package sqlite_test

// raceEnabled: the race detector slows SQLite down tenfold; timing tests
// shrink and do not judge.
const raceEnabled = true
