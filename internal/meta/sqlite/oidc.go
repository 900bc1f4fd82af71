package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/berth-registry/berth/internal/meta"
)

// CreateOIDCUser implements meta.OIDCStore.
func (s *Store) CreateOIDCUser(ctx context.Context, u meta.User, id meta.OIDCIdentity) error {
	groups, err := json.Marshal(nonNil(id.Groups))
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx wtx) error {
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, admin, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, u.Name, meta.ExternalPassword, u.Admin, u.Disabled, t, t)
		if err := inserted(res, err, "user "+u.Name); err != nil {
			// A user made beforehand for this login (no password, no
			// link yet) is linked; any other is not.
			var hash string
			if err := tx.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE name = ?`, u.Name).Scan(&hash); err != nil || hash != meta.ExternalPassword {
				return fmt.Errorf("%w: user %s", meta.ErrExists, u.Name)
			}
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO oidc_identities (issuer, subject, user_name, email, groups, admin, last_login, refresh_token)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id.Issuer, id.Subject, u.Name, id.Email, string(groups), id.Admin, nanos(id.LastLogin), id.RefreshToken)
		return inserted(res, err, "OIDC identity")
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
	return scanOIDC(s.readRow(ctx, `SELECT `+oidcCols+` FROM oidc_identities WHERE issuer = ? AND subject = ?`, issuer, subject))
}

// OIDCIdentityOfUser implements meta.OIDCStore.
func (s *Store) OIDCIdentityOfUser(ctx context.Context, user string) (meta.OIDCIdentity, error) {
	return scanOIDC(s.readRow(ctx, `SELECT `+oidcCols+` FROM oidc_identities WHERE user_name = ?`, user))
}

// UpdateOIDCIdentity implements meta.OIDCStore.
func (s *Store) UpdateOIDCIdentity(ctx context.Context, id meta.OIDCIdentity) error {
	groups, err := json.Marshal(nonNil(id.Groups))
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oidc_identities SET email = ?, groups = ?, admin = ?, last_login = ?, refresh_token = ?
			WHERE issuer = ? AND subject = ?`, id.Email, string(groups), id.Admin, nanos(id.LastLogin), id.RefreshToken, id.Issuer, id.Subject)
		return changedOne(res, err, "OIDC identity")
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
	rows, err := s.readRows(ctx, `SELECT `+oidcCols+` FROM oidc_identities WHERE refresh_token <> '' ORDER BY user_name`)
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
