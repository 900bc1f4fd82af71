package meta

import (
	"context"
	"errors"
	"time"
)

// ErrExists: a user, project, member, robot or token of that name exists.
var ErrExists = errors.New("meta: already exists")

// User is a user stored in the database (the "builtin" authentication
// mode). PasswordHash is a bcrypt hash; nothing else of the password is kept.
type User struct {
	Name         string
	PasswordHash string
	Admin        bool // system administrator
	// Disabled users cannot log in or use their access tokens; their
	// memberships and tokens stay.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Project is the first path component of repository names
// (team-a/app/api is in project team-a): the unit of membership and
// visibility. Other features (quotas, retention, proxy caches) key their
// settings by Name.
type Project struct {
	Name      string
	Public    bool // anonymous pull allowed
	CreatedBy string
	CreatedAt time.Time
}

// Member kinds.
const (
	MemberUser  = "user"
	MemberGroup = "group" // an LDAP group
)

// Member gives a user or a group a role in a project.
type Member struct {
	Project string
	Kind    string // MemberUser or MemberGroup
	Name    string
	Role    string // admin, maintainer, developer, guest
}

// RobotPermission is what a robot may do in one project ("*" for every
// project, for system robots).
type RobotPermission struct {
	Project string   `json:"project"`
	Actions []string `json:"actions"`
}

// Robot is a robot account: a name (robot$team-a+ci, robot$ci), a secret
// stored as a SHA-256 hash (secrets are long random strings), and the
// permissions it was given. Project is "" for system robots.
type Robot struct {
	Name        string
	Project     string
	Description string
	SecretHash  string
	Permissions []RobotPermission
	ExpiresAt   time.Time // zero: never
	CreatedAt   time.Time
}

// AccessToken is a personal access token of a user, usable as a password.
// ID is public (it is part of the token); SecretHash is the SHA-256 of the
// whole token.
type AccessToken struct {
	ID         string
	User       string
	Name       string
	SecretHash string
	ExpiresAt  time.Time // zero: never
	CreatedAt  time.Time
}

// SigningKey is a private key that signs (while not retired) and verifies
// (until RetiredAt plus the longest token lifetime) the registry's tokens.
type SigningKey struct {
	ID         string // key id (kid), the RFC 7638 thumbprint
	Algorithm  string // JWS algorithm, e.g. ES256
	PrivateKey []byte // PKCS #8, DER
	CreatedAt  time.Time
	RetiredAt  time.Time // zero: the current signing key
}

// AuthStore holds users, projects and their members, robot accounts,
// personal access tokens, token signing keys and system settings.
// Names are compared byte-wise and listed in byte order.
type AuthStore interface {
	// CreateUser adds a user; ErrExists if the name is taken.
	CreateUser(ctx context.Context, u User) error
	// User returns a user, or ErrNotFound.
	User(ctx context.Context, name string) (User, error)
	// Users lists every user by name.
	Users(ctx context.Context) ([]User, error)
	// UpdateUser saves a user's password hash and admin flag; ErrNotFound.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes a user with their memberships, access tokens and
	// web UI sessions.
	DeleteUser(ctx context.Context, name string) error
	// CountAdmins counts the users with Admin set and Disabled not.
	CountAdmins(ctx context.Context) (int, error)

	// CreateProject adds a project; ErrExists if it exists. Members are
	// added in the same transaction (the creator as admin).
	CreateProject(ctx context.Context, p Project, members ...Member) error
	// Project returns a project, or ErrNotFound.
	Project(ctx context.Context, name string) (Project, error)
	// Projects lists every project by name.
	Projects(ctx context.Context) ([]Project, error)
	// UpdateProject saves a project's settings (Public); ErrNotFound.
	UpdateProject(ctx context.Context, p Project) error
	// DeleteProject removes a project, its members and its robots.
	DeleteProject(ctx context.Context, name string) error

	// PutMember adds a member or changes their role; ErrNotFound for an
	// unknown project.
	PutMember(ctx context.Context, m Member) error
	// DeleteMember removes a member; ErrNotFound if there is none.
	DeleteMember(ctx context.Context, project, kind, name string) error
	// Members lists a project's members (by kind, then name).
	Members(ctx context.Context, project string) ([]Member, error)
	// Memberships returns the members whose kind is user and name is user,
	// or whose kind is group and name is one of groups, in every project.
	Memberships(ctx context.Context, user string, groups []string) ([]Member, error)

	// CreateRobot adds a robot account; ErrExists if the name is taken.
	CreateRobot(ctx context.Context, r Robot) error
	// Robot returns a robot, or ErrNotFound.
	Robot(ctx context.Context, name string) (Robot, error)
	// Robots lists the robots of a project ("" for system robots), by name.
	Robots(ctx context.Context, project string) ([]Robot, error)
	// DeleteRobot removes a robot; ErrNotFound.
	DeleteRobot(ctx context.Context, name string) error

	// CreateAccessToken adds a personal access token; ErrExists if the user
	// has one of that name, ErrNotFound for an unknown user.
	CreateAccessToken(ctx context.Context, t AccessToken) error
	// AccessToken returns a token by id, or ErrNotFound.
	AccessToken(ctx context.Context, id string) (AccessToken, error)
	// AccessTokens lists a user's tokens by name.
	AccessTokens(ctx context.Context, user string) ([]AccessToken, error)
	// DeleteAccessToken removes a user's token; ErrNotFound.
	DeleteAccessToken(ctx context.Context, user, id string) error

	// SigningKeys lists the token signing keys, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// RotateSigningKey retires the current key (if any) at k.CreatedAt and
	// adds k as the current one, and drops keys retired before
	// dropRetiredBefore, in one transaction.
	RotateSigningKey(ctx context.Context, k SigningKey, dropRetiredBefore time.Time) error

	// Setting returns a system setting, or ErrNotFound when it was never set.
	Setting(ctx context.Context, name string) (string, error)
	// PutSetting sets a system setting.
	PutSetting(ctx context.Context, name, value string) error
}
