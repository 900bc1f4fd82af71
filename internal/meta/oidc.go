package meta

import (
	"context"
	"time"
)

// ExternalPassword is the password hash of users whose password lives
// elsewhere (an OpenID Connect provider): no bcrypt hash ever equals it,
// and the builtin source of users does not know them.
const ExternalPassword = "!external"

// OIDCIdentity links a user of the users table to an account at an
// OpenID Connect provider (issuer and subject, which never change), with
// what the provider said at the last login: groups (members of projects,
// like LDAP groups) and whether the user is in the admin group.
type OIDCIdentity struct {
	Issuer    string
	Subject   string
	User      string
	Email     string
	Groups    []string
	Admin     bool // in the provider's admin group at the last login
	LastLogin time.Time
	// RefreshToken is the provider's, kept for the periodic check of the
	// groups (auth.oidc.refresh_interval); "" when there is none.
	RefreshToken string
}

// OIDCStore keeps the links between users and OIDC accounts.
type OIDCStore interface {
	// CreateOIDCUser adds a user (PasswordHash ExternalPassword) and its
	// link in one transaction; a user of that name made beforehand with
	// PasswordHash ExternalPassword and no link yet is linked instead.
	// ErrExists when the name or the account is taken.
	CreateOIDCUser(ctx context.Context, u User, id OIDCIdentity) error
	// OIDCIdentity returns the link of an account, or ErrNotFound.
	OIDCIdentity(ctx context.Context, issuer, subject string) (OIDCIdentity, error)
	// OIDCIdentityOfUser returns the link of a user, or ErrNotFound.
	OIDCIdentityOfUser(ctx context.Context, user string) (OIDCIdentity, error)
	// UpdateOIDCIdentity saves a link's email, groups, admin flag, last
	// login and refresh token; ErrNotFound. The link goes with its user
	// (DeleteUser).
	UpdateOIDCIdentity(ctx context.Context, id OIDCIdentity) error
	// OIDCIdentitiesWithRefresh lists the links that have a refresh token,
	// by user.
	OIDCIdentitiesWithRefresh(ctx context.Context) ([]OIDCIdentity, error)
}
