package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
func inserted(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", meta.ErrExists, what)
	}
	return nil
}

// CreateUser implements meta.AuthStore.
func (s *Store) CreateUser(ctx context.Context, u meta.User) error {
	t := now()
	tag, err := s.pool.Exec(ctx, `INSERT INTO users (name, password_hash, admin, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, u.Name, u.PasswordHash, u.Admin, u.Disabled, t, t)
	return inserted(tag, err, "user "+u.Name)
}

const userCols = `name, password_hash, admin, disabled, created_at, updated_at`

func scanUser(row pgx.Row) (meta.User, error) {
	var u meta.User
	var created, updated int64
	err := row.Scan(&u.Name, &u.PasswordHash, &u.Admin, &u.Disabled, &created, &updated)
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, err
}

// User implements meta.AuthStore.
func (s *Store) User(ctx context.Context, name string) (meta.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, name))
	return u, notFound(err, "user "+name)
}

// Users implements meta.AuthStore.
func (s *Store) Users(ctx context.Context) ([]meta.User, error) {
	return collect(s, ctx, scanUser, `SELECT `+userCols+` FROM users ORDER BY name`)
}

// collect runs a query and scans every row with scan.
func collect[T any](s *Store, ctx context.Context, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]T{}, rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// UpdateUser implements meta.AuthStore.
func (s *Store) UpdateUser(ctx context.Context, u meta.User) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1, admin = $2, disabled = $3, updated_at = $4 WHERE name = $5`,
		u.PasswordHash, u.Admin, u.Disabled, now(), u.Name)
	return changedOne(tag, err, "user "+u.Name)
}

// DeleteUser implements meta.AuthStore.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)
		if err := changedOne(tag, err, "user "+name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM project_members WHERE kind = 'user' AND name = $1`, name)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM ui_sessions WHERE username = $1`, name)
		return err
	})
}

// CountAdmins implements meta.AuthStore.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE admin AND NOT disabled`).Scan(&n)
	return n, err
}

// CreateProject implements meta.AuthStore.
func (s *Store) CreateProject(ctx context.Context, p meta.Project, members ...meta.Member) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO projects (name, public, created_by, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, p.Name, p.Public, p.CreatedBy, now())
		if err := inserted(tag, err, "project "+p.Name); err != nil {
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

func scanProject(row pgx.Row) (meta.Project, error) {
	var p meta.Project
	var created int64
	err := row.Scan(&p.Name, &p.Public, &p.CreatedBy, &created)
	p.CreatedAt = fromNanos(created)
	return p, err
}

// Project implements meta.AuthStore.
func (s *Store) Project(ctx context.Context, name string) (meta.Project, error) {
	p, err := scanProject(s.pool.QueryRow(ctx, `SELECT name, public, created_by, created_at FROM projects WHERE name = $1`, name))
	return p, notFound(err, "project "+name)
}

// Projects implements meta.AuthStore.
func (s *Store) Projects(ctx context.Context) ([]meta.Project, error) {
	return collect(s, ctx, scanProject, `SELECT name, public, created_by, created_at FROM projects ORDER BY name`)
}

// UpdateProject implements meta.AuthStore.
func (s *Store) UpdateProject(ctx context.Context, p meta.Project) error {
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET public = $1 WHERE name = $2`, p.Public, p.Name)
	return changedOne(tag, err, "project "+p.Name)
}

// DeleteProject implements meta.AuthStore.
func (s *Store) DeleteProject(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM projects WHERE name = $1`, name)
		if err := changedOne(tag, err, "project "+name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM robots WHERE project = $1`, name)
		return err
	})
}

func putMember(ctx context.Context, tx pgx.Tx, project string, m meta.Member) error {
	_, err := tx.Exec(ctx, `INSERT INTO project_members (project, kind, name, role) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project, kind, name) DO UPDATE SET role = excluded.role`, project, m.Kind, m.Name, m.Role)
	return err
}

// PutMember implements meta.AuthStore. The project row is locked so a
// concurrent delete of the project cannot slip in.
func (s *Store) PutMember(ctx context.Context, m meta.Member) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM projects WHERE name = $1 FOR KEY SHARE`, m.Project).Scan(&one)
		if err != nil {
			return notFound(err, "project "+m.Project)
		}
		return putMember(ctx, tx, m.Project, m)
	})
}

// DeleteMember implements meta.AuthStore.
func (s *Store) DeleteMember(ctx context.Context, project, kind, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM project_members WHERE project = $1 AND kind = $2 AND name = $3`, project, kind, name)
	return changedOne(tag, err, "member "+kind+" "+name)
}

func scanMember(row pgx.Row) (meta.Member, error) {
	var m meta.Member
	err := row.Scan(&m.Project, &m.Kind, &m.Name, &m.Role)
	return m, err
}

// Members implements meta.AuthStore.
func (s *Store) Members(ctx context.Context, project string) ([]meta.Member, error) {
	return collect(s, ctx, scanMember, `SELECT project, kind, name, role FROM project_members
		WHERE project = $1 ORDER BY kind DESC, name`, project)
}

// Memberships implements meta.AuthStore.
func (s *Store) Memberships(ctx context.Context, user string, groups []string) ([]meta.Member, error) {
	if groups == nil {
		groups = []string{}
	}
	return collect(s, ctx, scanMember, `SELECT project, kind, name, role FROM project_members
		WHERE (kind = 'user' AND name = $1) OR (kind = 'group' AND name = ANY($2))`, user, groups)
}

// CreateRobot implements meta.AuthStore.
func (s *Store) CreateRobot(ctx context.Context, r meta.Robot) error {
	perms, err := json.Marshal(r.Permissions)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO robots (name, project, description, secret_hash, permissions, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		r.Name, r.Project, r.Description, r.SecretHash, string(perms), nanos(r.ExpiresAt), now())
	return inserted(tag, err, "robot "+r.Name)
}

const robotCols = `name, project, description, secret_hash, permissions, expires_at, created_at`

func scanRobot(row pgx.Row) (meta.Robot, error) {
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
	r, err := scanRobot(s.pool.QueryRow(ctx, `SELECT `+robotCols+` FROM robots WHERE name = $1`, name))
	return r, notFound(err, "robot "+name)
}

// Robots implements meta.AuthStore.
func (s *Store) Robots(ctx context.Context, project string) ([]meta.Robot, error) {
	return collect(s, ctx, scanRobot, `SELECT `+robotCols+` FROM robots WHERE project = $1 ORDER BY name`, project)
}

// DeleteRobot implements meta.AuthStore.
func (s *Store) DeleteRobot(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM robots WHERE name = $1`, name)
	return changedOne(tag, err, "robot "+name)
}

// CreateAccessToken implements meta.AuthStore. The user row is locked so a
// concurrent delete of the user cannot slip in.
func (s *Store) CreateAccessToken(ctx context.Context, t meta.AccessToken) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE name = $1 FOR KEY SHARE`, t.User).Scan(&one); err != nil {
			return notFound(err, "user "+t.User)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO access_tokens (id, user_name, name, secret_hash, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, t.ID, t.User, t.Name, t.SecretHash, nanos(t.ExpiresAt), now())
		return inserted(tag, err, "access token "+t.Name)
	})
}

const tokenCols = `id, user_name, name, secret_hash, expires_at, created_at`

func scanToken(row pgx.Row) (meta.AccessToken, error) {
	var t meta.AccessToken
	var expires, created int64
	err := row.Scan(&t.ID, &t.User, &t.Name, &t.SecretHash, &expires, &created)
	t.ExpiresAt, t.CreatedAt = optTime(expires), fromNanos(created)
	return t, err
}

// AccessToken implements meta.AuthStore.
func (s *Store) AccessToken(ctx context.Context, id string) (meta.AccessToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM access_tokens WHERE id = $1`, id))
	return t, notFound(err, "access token")
}

// AccessTokens implements meta.AuthStore.
func (s *Store) AccessTokens(ctx context.Context, user string) ([]meta.AccessToken, error) {
	return collect(s, ctx, scanToken, `SELECT `+tokenCols+` FROM access_tokens WHERE user_name = $1 ORDER BY name`, user)
}

// DeleteAccessToken implements meta.AuthStore.
func (s *Store) DeleteAccessToken(ctx context.Context, user, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM access_tokens WHERE user_name = $1 AND id = $2`, user, id)
	return changedOne(tag, err, "access token "+id)
}

// SigningKeys implements meta.AuthStore.
func (s *Store) SigningKeys(ctx context.Context) ([]meta.SigningKey, error) {
	return collect(s, ctx, func(row pgx.Row) (meta.SigningKey, error) {
		var k meta.SigningKey
		var created, retired int64
		err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &created, &retired)
		k.CreatedAt, k.RetiredAt = fromNanos(created), optTime(retired)
		return k, err
	}, `SELECT id, algorithm, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, id`)
}

// RotateSigningKey implements meta.AuthStore. Instances starting together
// may each try to create the first key: the table lock makes them take
// turns, and a caller that finds a current key newer than its own view
// simply adds another (harmless: both verify).
func (s *Store) RotateSigningKey(ctx context.Context, k meta.SigningKey, dropRetiredBefore time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		t := nanos(k.CreatedAt)
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at = 0`, t); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE retired_at <> 0 AND retired_at < $1`, nanos(dropRetiredBefore)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, created_at, retired_at)
			VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING`, k.ID, k.Algorithm, k.PrivateKey, t)
		return inserted(tag, err, "signing key "+k.ID)
	})
}

// Setting implements meta.AuthStore.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, notFound(err, "setting "+name)
}

// PutSetting implements meta.AuthStore.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}
