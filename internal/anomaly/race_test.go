//go:build race

package anomaly

// raceEnabled: the race detector slows SQLite and the detector down
// tenfold; the long generated histories shrink under it.
const raceEnabled = true
