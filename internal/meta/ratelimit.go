package meta

import (
	"context"
	"time"
)

// RateCountStore shares rate-limit counts between instances.
type RateCountStore interface {
	// AddRateCounts adds deltas to the counts of their keys in the window
	// starting at window, in one transaction, and returns the totals of
	// those keys; counts of windows that ended before window are dropped.
	AddRateCounts(ctx context.Context, window time.Time, deltas map[string]int64) (map[string]int64, error)
}
