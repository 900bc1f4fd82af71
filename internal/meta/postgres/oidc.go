package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/meta"
)

// CreateOIDCUser implements meta.OIDCStore.
func (s *Store) CreateOIDCUser(ctx context.Context, u meta.User, id meta.OIDCIdentity) error {
	groups, err := json.Marshal(nonNil(id.Groups))
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		t := now()
		tag, err := tx.Exec(ctx, `INSERT INTO users (name, password_hash, admin, disabled, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, u.Name, meta.ExternalPassword, u.Admin, u.Disabled, t, t)
		if err := inserted(tag, err, "user "+u.Name); err != nil {
			// A user made beforehand for this login (no password, no
			// link yet) is linked; any other is not.
			var hash string
			if err := tx.QueryRow(ctx, `SELECT password_hash FROM users WHERE name = $1`, u.Name).Scan(&hash); err != nil || hash != meta.ExternalPassword {
				return fmt.Errorf("%w: user %s", meta.ErrExists, u.Name)
			}
		}
		tag, err = tx.Exec(ctx, `INSERT INTO oidc_identities (issuer, subject, user_name, email, groups, admin, last_login, refresh_token)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			id.Issuer, id.Subject, u.Name, id.Email, string(groups), id.Admin, nanos(id.LastLogin), id.RefreshToken)
		return inserted(tag, err, "OIDC identity")
	})
}

const oidcCols = `issuer, subject, user_name, email, groups, admin, last_login, refresh_token`

func scanOIDC(row interface{ Scan(...any) error }) (meta.OIDCIdentity, error) {
	var id meta.OIDCIdentity
	var groups string
	var last int64
	if err := row.Scan(&id.Issuer, &id.Subject, &id.User, &id.Email, &groups, &id.Admin, &last, &id.RefreshToken); err != nil {
		return id, notFound(err, "OIDC identity")
	}
	id.LastLogin = fromNanos(last)
	return id, json.Unmarshal([]byte(groups), &id.Groups)
}

// OIDCIdentity implements meta.OIDCStore.
func (s *Store) OIDCIdentity(ctx context.Context, issuer, subject string) (meta.OIDCIdentity, error) {
	return scanOIDC(s.pool.QueryRow(ctx, `SELECT `+oidcCols+` FROM oidc_identities WHERE issuer = $1 AND subject = $2`, issuer, subject))
}

// OIDCIdentityOfUser implements meta.OIDCStore.
func (s *Store) OIDCIdentityOfUser(ctx context.Context, user string) (meta.OIDCIdentity, error) {
	return scanOIDC(s.pool.QueryRow(ctx, `SELECT `+oidcCols+` FROM oidc_identities WHERE user_name = $1`, user))
}

// UpdateOIDCIdentity implements meta.OIDCStore.
func (s *Store) UpdateOIDCIdentity(ctx context.Context, id meta.OIDCIdentity) error {
	groups, err := json.Marshal(nonNil(id.Groups))
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE oidc_identities SET email = $1, groups = $2, admin = $3, last_login = $4, refresh_token = $5
			WHERE issuer = $6 AND subject = $7`, id.Email, string(groups), id.Admin, nanos(id.LastLogin), id.RefreshToken, id.Issuer, id.Subject)
		return changedOne(tag, err, "OIDC identity")
	})
}

// nonNil gives an empty slice for nil (a column that is NOT NULL).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// OIDCIdentitiesWithRefresh implements meta.OIDCStore.
func (s *Store) OIDCIdentitiesWithRefresh(ctx context.Context) ([]meta.OIDCIdentity, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+oidcCols+` FROM oidc_identities WHERE refresh_token <> '' ORDER BY user_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meta.OIDCIdentity
	for rows.Next() {
		id, err := scanOIDC(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
