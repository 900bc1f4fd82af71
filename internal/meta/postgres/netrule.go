package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/meta"
)

// NetworkRules implements meta.NetworkRuleStore.
func (s *Store) NetworkRules(ctx context.Context) ([]meta.NetworkRule, error) {
	rows, err := s.pool.Query(ctx, `SELECT scope, pull, push, updated_at FROM network_rules ORDER BY scope`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meta.NetworkRule
	for rows.Next() {
		var r meta.NetworkRule
		var pull, push string
		var updated int64
		if err := rows.Scan(&r.Scope, &pull, &push, &updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(pull), &r.Pull); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(push), &r.Push); err != nil {
			return nil, err
		}
		r.UpdatedAt = fromNanos(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutNetworkRule implements meta.NetworkRuleStore.
func (s *Store) PutNetworkRule(ctx context.Context, r meta.NetworkRule) error {
	pull, err := json.Marshal(nonNil(r.Pull))
	if err != nil {
		return err
	}
	push, err := json.Marshal(nonNil(r.Push))
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO network_rules (scope, pull, push, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (scope) DO UPDATE SET pull = excluded.pull, push = excluded.push, updated_at = excluded.updated_at`,
			r.Scope, string(pull), string(push), nanos(r.UpdatedAt))
		return err
	})
}

// DeleteNetworkRule implements meta.NetworkRuleStore.
func (s *Store) DeleteNetworkRule(ctx context.Context, scope string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM network_rules WHERE scope = $1`, scope)
		return err
	})
}
