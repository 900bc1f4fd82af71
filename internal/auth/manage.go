package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Manager changes users, projects, members, robot accounts, access tokens
// and settings, checking names and values first. The management API and
// the berth CLI both use it.
type Manager struct {
	store    meta.Store
	cost     int // of bcrypt
	now      func() time.Time
	onChange func() // forget cached logins
	// maxTokenTTL bounds personal access tokens' lifetime
	// (auth.access_tokens.max_ttl); 0: no bound.
	maxTokenTTL time.Duration
}

// NewManager returns a manager over a store; passwords are hashed with
// bcrypt of work factor cost.
func NewManager(store meta.Store, cost int) *Manager {
	return &Manager{store: store, cost: cost, now: time.Now, onChange: func() {}}
}

// Manager returns the service's manager; its changes also end the
// service's cached logins.
func (s *Service) Manager() *Manager {
	return &Manager{store: s.store, cost: s.cfg.BcryptCost, now: s.now, onChange: s.Invalidate, maxTokenTTL: s.cfg.AccessTokens.MaxTTL}
}

// FieldError is an ErrInvalid about one input: its Field is name,
// password, admin, kind, role, project, actions, expires or
// project_creation, so a form can show the error beside that field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return ErrInvalid.Error() + ": " + e.Msg }

// Unwrap makes a FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Lengths of names, in bytes.
const (
	maxUser      = 128 // a builtin user (validUser)
	maxRobotName = 64  // the name part of a robot (CreateRobot)
	// MaxUserName is the longest name that can log in: a project robot,
	// robot$<project>+<name>. Longer names are refused before any check,
	// counted only against the client address, and never logged or audited.
	MaxUserName = len(RobotPrefix) + oci.MaxNameLength + 1 + maxRobotName
)

// validUser accepts user names usable in HTTP Basic and in logs.
func validUser(name string) error {
	if name == "" || len(name) > maxUser || strings.ContainsAny(name, ": \t\"\\") || hasControl(name) || strings.HasPrefix(name, RobotPrefix) {
		return invalid("name", "%q is not a valid user name (1-128 characters, no spaces, colons, quotes; not robot$...)", name)
	}
	return nil
}

// ValidProject reports whether name can be a project: a repository name
// of one component.
func ValidProject(name string) bool { return !strings.Contains(name, "/") && oci.ValidName(name) }

var robotName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// CreateUser adds a builtin user.
func (m *Manager) CreateUser(ctx context.Context, name, password string, admin bool) error {
	if err := validUser(name); err != nil {
		return err
	}
	hash, err := HashPassword(password, m.cost)
	if err != nil {
		return err
	}
	if err := m.store.CreateUser(ctx, meta.User{Name: name, PasswordHash: hash, Admin: admin}); err != nil {
		return err
	}
	m.onChange() // a re-checked token subject of that name may be cached as gone
	return nil
}

// Users lists the builtin users.
func (m *Manager) Users(ctx context.Context) ([]meta.User, error) { return m.store.Users(ctx) }

// User returns a builtin user.
func (m *Manager) User(ctx context.Context, name string) (meta.User, error) {
	return m.store.User(ctx, name)
}

// UpdateUser changes a user's password (when not empty) and admin flag
// (when not nil). The last administrator cannot be demoted.
func (m *Manager) UpdateUser(ctx context.Context, name, password string, admin *bool) error {
	u, err := m.store.User(ctx, name)
	if err != nil {
		return err
	}
	if password != "" {
		if u.PasswordHash == meta.ExternalPassword {
			return invalid("password", "%s signs in through single sign-on and has no password here", name)
		}
		if u.PasswordHash, err = HashPassword(password, m.cost); err != nil {
			return err
		}
	}
	if admin != nil {
		if u.Admin && !*admin && !u.Disabled {
			if err := m.keepOneAdmin(ctx); err != nil {
				return err
			}
		}
		u.Admin = *admin
	}
	if err := m.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	m.onChange()
	return nil
}

func (m *Manager) keepOneAdmin(ctx context.Context) error {
	n, err := m.store.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return invalid("admin", "this is the last administrator")
	}
	return nil
}

// SetDisabled disables a builtin user (they can no longer log in, use
// their access tokens or their sessions) or enables them again. The last
// enabled administrator cannot be disabled.
func (m *Manager) SetDisabled(ctx context.Context, name string, disabled bool) error {
	u, err := m.store.User(ctx, name)
	if err != nil {
		return err
	}
	if disabled && u.Admin && !u.Disabled {
		if err := m.keepOneAdmin(ctx); err != nil {
			return err
		}
	}
	u.Disabled = disabled
	if err := m.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	m.onChange()
	return nil
}

// DeleteUser removes a builtin user, their memberships and access tokens.
func (m *Manager) DeleteUser(ctx context.Context, name string) error {
	u, err := m.store.User(ctx, name)
	if err != nil {
		return err
	}
	if u.Admin && !u.Disabled {
		if err := m.keepOneAdmin(ctx); err != nil {
			return err
		}
	}
	if err := m.store.DeleteUser(ctx, name); err != nil {
		return err
	}
	m.onChange()
	return nil
}

// CreateProject adds a project; a creator (if not empty) becomes its admin.
func (m *Manager) CreateProject(ctx context.Context, name string, public bool, creator string) error {
	if !ValidProject(name) {
		return invalid("name", "%q is not a valid project name (one lower-case repository name component)", name)
	}
	var members []meta.Member
	if creator != "" {
		members = append(members, meta.Member{Kind: meta.MemberUser, Name: creator, Role: RoleAdmin})
	}
	return m.store.CreateProject(ctx, meta.Project{Name: name, Public: public, CreatedBy: creator}, members...)
}

// Projects lists every project.
func (m *Manager) Projects(ctx context.Context) ([]meta.Project, error) { return m.store.Projects(ctx) }

// Project returns a project.
func (m *Manager) Project(ctx context.Context, name string) (meta.Project, error) {
	return m.store.Project(ctx, name)
}

// SetPublic changes whether anyone may pull from a project.
func (m *Manager) SetPublic(ctx context.Context, name string, public bool) error {
	p, err := m.store.Project(ctx, name)
	if err != nil {
		return err
	}
	p.Public = public
	if err := m.store.UpdateProject(ctx, p); err != nil {
		return err
	}
	m.onChange() // Public's remembered visibility
	return nil
}

// ErrNotEmpty: a project that still has repositories cannot be deleted.
var ErrNotEmpty = errors.New("project still has repositories")

// DeleteProject removes an empty project with its members and robots.
func (m *Manager) DeleteProject(ctx context.Context, name string) error {
	if _, err := m.store.Project(ctx, name); err != nil {
		return err
	}
	exists, err := m.store.RepositoryExists(ctx, name)
	if err != nil {
		return err
	}
	if !exists {
		next, err := m.store.Repositories(ctx, name+"/", 1)
		if err != nil {
			return err
		}
		exists = len(next) == 1 && strings.HasPrefix(next[0], name+"/")
	}
	if exists {
		return fmt.Errorf("%w: delete the repositories of %s first", ErrNotEmpty, name)
	}
	robots, err := m.store.Robots(ctx, name)
	if err != nil {
		return err
	}
	if err := m.store.DeleteProject(ctx, name); err != nil {
		return err
	}
	// The network rules of the project and its robots go with them.
	for _, scope := range append([]string{ProjectNetworkScope(name)}, robotScopes(robots)...) {
		if err := m.store.DeleteNetworkRule(ctx, scope); err != nil {
			return err
		}
	}
	m.onChange()
	return nil
}

// PutMember gives a user or group a role in a project.
func (m *Manager) PutMember(ctx context.Context, project, kind, name, role string) error {
	if kind != meta.MemberUser && kind != meta.MemberGroup {
		return invalid("kind", "member kind %q is not user or group", kind)
	}
	if name == "" || len(name) > 1024 || hasControl(name) {
		return invalid("name", "invalid member name")
	}
	if kind == meta.MemberUser {
		if err := validUser(name); err != nil {
			return err
		}
	}
	if !ValidRole(role) {
		return invalid("role", "role %q is not one of admin, maintainer, developer, guest", role)
	}
	if err := m.store.PutMember(ctx, meta.Member{Project: project, Kind: kind, Name: name, Role: role}); err != nil {
		return err
	}
	m.onChange()
	return nil
}

// DeleteMember removes a member from a project.
func (m *Manager) DeleteMember(ctx context.Context, project, kind, name string) error {
	if err := m.store.DeleteMember(ctx, project, kind, name); err != nil {
		return err
	}
	m.onChange()
	return nil
}

// Members lists a project's members.
func (m *Manager) Members(ctx context.Context, project string) ([]meta.Member, error) {
	if _, err := m.store.Project(ctx, project); err != nil {
		return nil, err
	}
	return m.store.Members(ctx, project)
}

// RobotName is the full name of a robot: robot$project+name, or
// robot$name for a system robot (project "").
func RobotName(project, name string) string {
	if project == "" {
		return RobotPrefix + name
	}
	return RobotPrefix + project + "+" + name
}

// CreateRobot adds a robot account and returns its full name and secret
// (shown once; only its hash is kept). A project robot's permissions are
// limited to its project; a system robot's name projects or "*".
func (m *Manager) CreateRobot(ctx context.Context, project, name, description string, perms []meta.RobotPermission, expires time.Time) (string, string, error) {
	if !robotName.MatchString(name) || len(name) > maxRobotName {
		return "", "", invalid("name", "%q is not a valid robot name (lower-case letters, digits, . _ -)", name)
	}
	if project != "" {
		if _, err := m.store.Project(ctx, project); err != nil {
			return "", "", err
		}
	}
	if len(perms) == 0 {
		return "", "", invalid("actions", "a robot needs at least one permission")
	}
	for i, p := range perms {
		if project != "" && p.Project == "" {
			perms[i].Project, p.Project = project, project
		}
		if project != "" && p.Project != project {
			return "", "", invalid("project", "a robot of project %s may only have permissions in it", project)
		}
		if p.Project != "*" && !ValidProject(p.Project) {
			return "", "", invalid("project", "%q is not a project", p.Project)
		}
		if len(p.Actions) == 0 {
			return "", "", invalid("actions", "permission on %s without actions", p.Project)
		}
		for _, a := range p.Actions {
			if !slices.Contains(allActions, a) {
				return "", "", invalid("actions", "action %q is not pull, push or delete", a)
			}
		}
	}
	if !expires.IsZero() && !expires.After(m.now()) {
		return "", "", invalid("expires", "the expiry is in the past")
	}
	full := RobotName(project, name)
	secret := randomHex(secretBytes)
	err := m.store.CreateRobot(ctx, meta.Robot{Name: full, Project: project, Description: description,
		SecretHash: hashSecret(secret), Permissions: perms, ExpiresAt: expires})
	if err != nil {
		return "", "", err
	}
	return full, secret, nil
}

// Robots lists a project's robots ("" for system robots).
func (m *Manager) Robots(ctx context.Context, project string) ([]meta.Robot, error) {
	return m.store.Robots(ctx, project)
}

// DeleteRobot removes a robot account of a project ("" for system robots).
func (m *Manager) DeleteRobot(ctx context.Context, project, name string) error {
	if err := m.store.DeleteRobot(ctx, RobotName(project, name)); err != nil {
		return err
	}
	if err := m.store.DeleteNetworkRule(ctx, RobotNetworkScope(RobotName(project, name))); err != nil {
		return err
	}
	m.onChange()
	return nil
}

// CreateAccessToken adds a personal access token for a builtin user and
// returns it (shown once; only its hash is kept).
func (m *Manager) CreateAccessToken(ctx context.Context, user, name string, expires time.Time) (string, meta.AccessToken, error) {
	if name == "" || len(name) > 128 || hasControl(name) {
		return "", meta.AccessToken{}, invalid("name", "invalid token name")
	}
	if !expires.IsZero() && !expires.After(m.now()) {
		return "", meta.AccessToken{}, invalid("expires", "the expiry is in the past")
	}
	if max := m.maxTokenTTL; max > 0 && (expires.IsZero() || expires.After(m.now().Add(max))) {
		return "", meta.AccessToken{}, invalid("expires", "tokens expire within %v at most here (auth.access_tokens.max_ttl)", max)
	}
	token, id := newAccessToken()
	t := meta.AccessToken{ID: id, User: user, Name: name, SecretHash: hashSecret(token), ExpiresAt: expires, CreatedAt: m.now()}
	if err := m.store.CreateAccessToken(ctx, t); err != nil {
		return "", meta.AccessToken{}, err
	}
	return token, t, nil
}

// AccessTokens lists a user's access tokens.
func (m *Manager) AccessTokens(ctx context.Context, user string) ([]meta.AccessToken, error) {
	return m.store.AccessTokens(ctx, user)
}

// DeleteAccessToken revokes one of a user's access tokens.
func (m *Manager) DeleteAccessToken(ctx context.Context, user, id string) error {
	if err := m.store.DeleteAccessToken(ctx, user, id); err != nil {
		return err
	}
	m.onChange()
	return nil
}

// SetProjectCreation sets who may create projects: admins or users.
func (m *Manager) SetProjectCreation(ctx context.Context, v string) error {
	if v != CreationAdmins && v != CreationUsers {
		return invalid("project_creation", "project_creation %q is not admins or users", v)
	}
	return m.store.PutSetting(ctx, SettingProjectCreation, v)
}

// ErrNotBuiltin: the subject is not a builtin user, so it has no password
// here (htpasswd and LDAP users have theirs elsewhere, single sign-on
// users none, robots have a secret), or no access tokens (only users
// kept here, builtin and single sign-on, have them).
var ErrNotBuiltin = errors.New("only builtin users (not htpasswd, LDAP, single sign-on or robot accounts) have passwords here, and only builtin and single sign-on users access tokens")

// BuiltinUser returns s's name when s is a builtin user (with a password
// here), else ErrNotBuiltin.
func (m *Manager) BuiltinUser(ctx context.Context, s *Subject) (string, error) {
	u, err := m.storedUser(ctx, s)
	if err != nil {
		return "", err
	}
	if u.PasswordHash == meta.ExternalPassword {
		return "", ErrNotBuiltin
	}
	return u.Name, nil
}

// TokenUser returns s's name when s is a user kept here (builtin, or of
// single sign-on) who may hold personal access tokens, else
// ErrNotBuiltin.
func (m *Manager) TokenUser(ctx context.Context, s *Subject) (string, error) {
	u, err := m.storedUser(ctx, s)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}

func (m *Manager) storedUser(ctx context.Context, s *Subject) (meta.User, error) {
	if s == nil || s.Kind != KindUser {
		return meta.User{}, ErrNotBuiltin
	}
	u, err := m.store.User(ctx, s.Name)
	if errors.Is(err, meta.ErrNotFound) {
		return meta.User{}, ErrNotBuiltin
	}
	return u, err
}

// TokenMaxTTL is the longest lifetime of a personal access token
// (auth.access_tokens.max_ttl; 0: no bound), for forms to show.
func (m *Manager) TokenMaxTTL() time.Duration { return m.maxTokenTTL }

// Memberships lists the roles s has in projects: as a user member, or
// through one of its groups (by project, then kind and name).
func (m *Manager) Memberships(ctx context.Context, s *Subject) ([]meta.Member, error) {
	if s == nil || s.Kind != KindUser {
		return nil, nil
	}
	return m.store.Memberships(ctx, s.Name, s.Groups)
}

// SigningKey describes a token signing key without its private part.
type SigningKey struct {
	ID        string    `json:"kid"`
	Algorithm string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	// RetiredAt is zero for the current signing key; a retired key
	// verifies the tokens it signed until they expire.
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// SigningKeys lists the token signing keys, the current one included.
func (m *Manager) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	keys, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SigningKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, SigningKey{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt.UTC(), RetiredAt: k.RetiredAt.UTC()})
	}
	return out, nil
}
