package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// nanos is a time as stored (Unix nanoseconds), 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// inserted turns an INSERT ... ON CONFLICT DO NOTHING that changed no row
// into meta.ErrExists.
func inserted(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: %s", meta.ErrExists, what)
	}
	return nil
}

// CreateUser implements meta.AuthStore.
func (s *Store) CreateUser(ctx context.Context, u meta.User) error {
	return s.tx(ctx, func(tx wtx) error {
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, admin, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, u.Name, u.PasswordHash, u.Admin, u.Disabled, t, t)
		return inserted(res, err, "user "+u.Name)
	})
}

const userCols = `name, password_hash, admin, disabled, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (meta.User, error) {
	var u meta.User
	var created, updated int64
	err := row.Scan(&u.Name, &u.PasswordHash, &u.Admin, &u.Disabled, &created, &updated)
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, err
}

// User implements meta.AuthStore.
func (s *Store) User(ctx context.Context, name string) (meta.User, error) {
	u, err := scanUser(s.readRow(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	return u, notFound(err, "user "+name)
}

// Users implements meta.AuthStore.
func (s *Store) Users(ctx context.Context) ([]meta.User, error) {
	return collect(s, ctx, scanUser, `SELECT `+userCols+` FROM users ORDER BY name`)
}

// collect runs a read query and scans every row with scan.
func collect[T any](s *Store, ctx context.Context, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.readRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// UpdateUser implements meta.AuthStore.
func (s *Store) UpdateUser(ctx context.Context, u meta.User) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, admin = ?, disabled = ?, updated_at = ? WHERE name = ?`,
			u.PasswordHash, u.Admin, u.Disabled, now(), u.Name)
		return changedOne(res, err, "user "+u.Name)
	})
}

// DeleteUser implements meta.AuthStore.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
		if err := changedOne(res, err, "user "+name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM project_members WHERE kind = 'user' AND name = ?`, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE username = ?`, name)
		return err
	})
}

// CountAdmins implements meta.AuthStore.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.readRow(ctx, `SELECT COUNT(*) FROM users WHERE admin AND NOT disabled`).Scan(&n)
	return n, err
}

// CreateProject implements meta.AuthStore.
func (s *Store) CreateProject(ctx context.Context, p meta.Project, members ...meta.Member) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO projects (name, public, created_by, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, p.Name, p.Public, p.CreatedBy, now())
		if err := inserted(res, err, "project "+p.Name); err != nil {
			return err
		}
		for _, m := range members {
			if err := putMember(ctx, tx, p.Name, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func scanProject(row interface{ Scan(...any) error }) (meta.Project, error) {
	var p meta.Project
	var created int64
	err := row.Scan(&p.Name, &p.Public, &p.CreatedBy, &created)
	p.CreatedAt = fromNanos(created)
	return p, err
}

// Project implements meta.AuthStore.
func (s *Store) Project(ctx context.Context, name string) (meta.Project, error) {
	p, err := scanProject(s.readRow(ctx, `SELECT name, public, created_by, created_at FROM projects WHERE name = ?`, name))
	return p, notFound(err, "project "+name)
}

// Projects implements meta.AuthStore.
func (s *Store) Projects(ctx context.Context) ([]meta.Project, error) {
	return collect(s, ctx, scanProject, `SELECT name, public, created_by, created_at FROM projects ORDER BY name`)
}

// UpdateProject implements meta.AuthStore.
func (s *Store) UpdateProject(ctx context.Context, p meta.Project) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE projects SET public = ? WHERE name = ?`, p.Public, p.Name)
		return changedOne(res, err, "project "+p.Name)
	})
}

// DeleteProject implements meta.AuthStore.
func (s *Store) DeleteProject(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE name = ?`, name)
		if err := changedOne(res, err, "project "+name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM robots WHERE project = ?`, name)
		return err
	})
}

func putMember(ctx context.Context, tx wtx, project string, m meta.Member) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO project_members (project, kind, name, role) VALUES (?, ?, ?, ?)
		ON CONFLICT (project, kind, name) DO UPDATE SET role = excluded.role`, project, m.Kind, m.Name, m.Role)
	return err
}

// PutMember implements meta.AuthStore.
func (s *Store) PutMember(ctx context.Context, m meta.Member) error {
	return s.tx(ctx, func(tx wtx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects WHERE name = ?`, m.Project).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: project %s", meta.ErrNotFound, m.Project)
		}
		return putMember(ctx, tx, m.Project, m)
	})
}

// DeleteMember implements meta.AuthStore.
func (s *Store) DeleteMember(ctx context.Context, project, kind, name string) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM project_members WHERE project = ? AND kind = ? AND name = ?`, project, kind, name)
		return changedOne(res, err, "member "+kind+" "+name)
	})
}

func scanMember(row interface{ Scan(...any) error }) (meta.Member, error) {
	var m meta.Member
	err := row.Scan(&m.Project, &m.Kind, &m.Name, &m.Role)
	return m, err
}

// Members implements meta.AuthStore.
func (s *Store) Members(ctx context.Context, project string) ([]meta.Member, error) {
	return collect(s, ctx, scanMember, `SELECT project, kind, name, role FROM project_members
		WHERE project = ? ORDER BY kind DESC, name`, project)
}

// Memberships implements meta.AuthStore.
func (s *Store) Memberships(ctx context.Context, user string, groups []string) ([]meta.Member, error) {
	q := `SELECT project, kind, name, role FROM project_members WHERE kind = 'user' AND name = ?`
	args := []any{user}
	if len(groups) > 0 {
		q += ` UNION ALL SELECT project, kind, name, role FROM project_members WHERE kind = 'group' AND name IN (?` +
			strings.Repeat(", ?", len(groups)-1) + `)`
		for _, g := range groups {
			args = append(args, g)
		}
		// Varying argument counts would fill the statement cache: query directly.
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []meta.Member{}
		for rows.Next() {
			m, err := scanMember(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, rows.Err()
	}
	return collect(s, ctx, scanMember, q, args...)
}

// CreateRobot implements meta.AuthStore.
func (s *Store) CreateRobot(ctx context.Context, r meta.Robot) error {
	perms, err := json.Marshal(r.Permissions)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO robots (name, project, description, secret_hash, permissions, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			r.Name, r.Project, r.Description, r.SecretHash, string(perms), nanos(r.ExpiresAt), now())
		return inserted(res, err, "robot "+r.Name)
	})
}

const robotCols = `name, project, description, secret_hash, permissions, expires_at, created_at`

func scanRobot(row interface{ Scan(...any) error }) (meta.Robot, error) {
	var r meta.Robot
	var perms string
	var expires, created int64
	if err := row.Scan(&r.Name, &r.Project, &r.Description, &r.SecretHash, &perms, &expires, &created); err != nil {
		return r, err
	}
	r.ExpiresAt, r.CreatedAt = optTime(expires), fromNanos(created)
	return r, json.Unmarshal([]byte(perms), &r.Permissions)
}

// Robot implements meta.AuthStore.
func (s *Store) Robot(ctx context.Context, name string) (meta.Robot, error) {
	r, err := scanRobot(s.readRow(ctx, `SELECT `+robotCols+` FROM robots WHERE name = ?`, name))
	return r, notFound(err, "robot "+name)
}

// Robots implements meta.AuthStore.
func (s *Store) Robots(ctx context.Context, project string) ([]meta.Robot, error) {
	return collect(s, ctx, scanRobot, `SELECT `+robotCols+` FROM robots WHERE project = ? ORDER BY name`, project)
}

// DeleteRobot implements meta.AuthStore.
func (s *Store) DeleteRobot(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM robots WHERE name = ?`, name)
		return changedOne(res, err, "robot "+name)
	})
}

// CreateAccessToken implements meta.AuthStore.
func (s *Store) CreateAccessToken(ctx context.Context, t meta.AccessToken) error {
	return s.tx(ctx, func(tx wtx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, t.User).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: user %s", meta.ErrNotFound, t.User)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (id, user_name, name, secret_hash, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, t.ID, t.User, t.Name, t.SecretHash, nanos(t.ExpiresAt), now())
		return inserted(res, err, "access token "+t.Name)
	})
}

const tokenCols = `id, user_name, name, secret_hash, expires_at, created_at`

func scanToken(row interface{ Scan(...any) error }) (meta.AccessToken, error) {
	var t meta.AccessToken
	var expires, created int64
	err := row.Scan(&t.ID, &t.User, &t.Name, &t.SecretHash, &expires, &created)
	t.ExpiresAt, t.CreatedAt = optTime(expires), fromNanos(created)
	return t, err
}

// AccessToken implements meta.AuthStore.
func (s *Store) AccessToken(ctx context.Context, id string) (meta.AccessToken, error) {
	t, err := scanToken(s.readRow(ctx, `SELECT `+tokenCols+` FROM access_tokens WHERE id = ?`, id))
	return t, notFound(err, "access token")
}

// AccessTokens implements meta.AuthStore.
func (s *Store) AccessTokens(ctx context.Context, user string) ([]meta.AccessToken, error) {
	return collect(s, ctx, scanToken, `SELECT `+tokenCols+` FROM access_tokens WHERE user_name = ? ORDER BY name`, user)
}

// DeleteAccessToken implements meta.AuthStore.
func (s *Store) DeleteAccessToken(ctx context.Context, user, id string) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM access_tokens WHERE user_name = ? AND id = ?`, user, id)
		return changedOne(res, err, "access token "+id)
	})
}

// SigningKeys implements meta.AuthStore.
func (s *Store) SigningKeys(ctx context.Context) ([]meta.SigningKey, error) {
	return collect(s, ctx, func(row interface{ Scan(...any) error }) (meta.SigningKey, error) {
		var k meta.SigningKey
		var created, retired int64
		err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &created, &retired)
		k.CreatedAt, k.RetiredAt = fromNanos(created), optTime(retired)
		return k, err
	}, `SELECT id, algorithm, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, id`)
}

// RotateSigningKey implements meta.AuthStore.
func (s *Store) RotateSigningKey(ctx context.Context, k meta.SigningKey, dropRetiredBefore time.Time) error {
	return s.tx(ctx, func(tx wtx) error {
		t := nanos(k.CreatedAt)
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at = 0`, t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at <> 0 AND retired_at < ?`, nanos(dropRetiredBefore)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, created_at, retired_at)
			VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING`, k.ID, k.Algorithm, k.PrivateKey, t)
		return inserted(res, err, "signing key "+k.ID)
	})
}

// Setting implements meta.AuthStore.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.readRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v, notFound(err, "setting "+name)
}

// PutSetting implements meta.AuthStore.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return err
	})
}
