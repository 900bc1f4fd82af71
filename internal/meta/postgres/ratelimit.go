package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// AddRateCounts implements meta.RateCountStore.
func (s *Store) AddRateCounts(ctx context.Context, window time.Time, deltas map[string]int64) (map[string]int64, error) {
	w := window.Unix()
	out := make(map[string]int64, len(deltas))
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM rate_counts WHERE window_at < $1`, w); err != nil {
			return err
		}
		for k, d := range deltas {
			var n int64
			err := tx.QueryRow(ctx, `INSERT INTO rate_counts (key, window_at, count) VALUES ($1, $2, $3)
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
