package sqlite

import (
	"context"
	"time"
)

// AddRateCounts implements meta.RateCountStore.
func (s *Store) AddRateCounts(ctx context.Context, window time.Time, deltas map[string]int64) (map[string]int64, error) {
	w := window.Unix()
	out := make(map[string]int64, len(deltas))
	err := s.tx(ctx, func(tx wtx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM rate_counts WHERE window_at < ?`, w); err != nil {
			return err
		}
		for k, d := range deltas {
			var n int64
			err := tx.QueryRowContext(ctx, `INSERT INTO rate_counts (key, window_at, count) VALUES (?, ?, ?)
				ON CONFLICT (key, window_at) DO UPDATE SET count = rate_counts.count + excluded.count RETURNING count`, k, w, d).Scan(&n)
			if err != nil {
				return err
			}
			out[k] = n
		}
		return nil
	})
	return out, err
}
