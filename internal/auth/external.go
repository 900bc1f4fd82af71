package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// Users of an external login (OpenID Connect, internal/auth/oidc) are
// kept in the database: a users row without a password
// (meta.ExternalPassword) linked to the provider's account, with the
// groups and admin flag the provider gave at their last login. So they
// can be members of projects, be disabled, and hold personal access
// tokens for the command line that keep working whatever the provider's
// refresh tokens do: at each use of such a token the stored user, with
// the stored groups, is what is checked (a user disabled or who left
// the group that gave the access loses it), and each login refreshes
// the stored groups.

// ExternalIdentity is who an external login established.
type ExternalIdentity struct {
	Issuer   string
	Subject  string // the provider's stable id of the account
	Username string // the name the user gets here
	Email    string
	Groups   []string // after auth.oidc.group_filter
	Admin    bool     // in auth.oidc.admin_group
	// RefreshToken, when auth.oidc.refresh_interval is on, is kept for
	// the periodic check of the groups.
	RefreshToken string
}

// Refusals of ExternalLogin, for the login page to explain.
var (
	// ErrNotOnboarded: no user here for this account, and
	// auth.oidc.auto_onboard is off.
	ErrNotOnboarded = errors.New("no user here for this account: ask an administrator to create it")
	// ErrNameTaken: the user name the provider gives belongs to another
	// account (a local user, or another account of the provider).
	ErrNameTaken = errors.New("the user name is taken by another account")
	// ErrDisabled: the user is disabled here.
	ErrDisabled = errors.New("the user is disabled")
)

// ExternalLogin logs in a user an external provider vouched for: it finds
// the user linked to the account (or creates it, auth.oidc.auto_onboard),
// stores the groups and admin flag of this login, and returns the
// subject. Cached logins and re-checked tokens are forgotten, so a group
// lost takes effect at once on this instance.
func (s *Service) ExternalLogin(ctx context.Context, id ExternalIdentity) (*Subject, error) {
	if !s.cfg.HasMode(config.AuthOIDC) {
		return nil, ErrNotOnboarded
	}
	link := meta.OIDCIdentity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email,
		Groups: id.Groups, Admin: id.Admin, LastLogin: s.now(), RefreshToken: id.RefreshToken}
	cur, err := s.store.OIDCIdentity(ctx, id.Issuer, id.Subject)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		if err := validUser(id.Username); err != nil {
			return nil, err
		}
		link.User = id.Username
		u, uerr := s.store.User(ctx, id.Username)
		premade := uerr == nil && u.PasswordHash == meta.ExternalPassword
		if uerr == nil && !premade {
			return nil, fmt.Errorf("%w: %s", ErrNameTaken, id.Username)
		}
		if !s.cfg.OIDC.AutoOnboard && !premade {
			return nil, ErrNotOnboarded
		}
		if err := s.store.CreateOIDCUser(ctx, meta.User{Name: id.Username}, link); errors.Is(err, meta.ErrExists) {
			return nil, fmt.Errorf("%w: %s", ErrNameTaken, id.Username)
		} else if err != nil {
			return nil, err
		}
		s.log.InfoContext(ctx, "oidc: user linked", "user", id.Username, "issuer", id.Issuer, "premade", premade)
	case err != nil:
		return nil, err
	default:
		link.User = cur.User
		if err := s.store.UpdateOIDCIdentity(ctx, link); err != nil {
			return nil, err
		}
	}
	s.Invalidate()
	subj, err := s.oidcUser(ctx, link.User)
	if errors.Is(err, errUnknownUser) {
		return nil, ErrDisabled
	}
	return subj, err
}

// oidcUser is the subject of a stored user with an OIDC link, with the
// groups of their last login; errUnknownUser when there is none or they
// are disabled.
func (s *Service) oidcUser(ctx context.Context, name string) (*Subject, error) {
	u, err := s.store.User(ctx, name)
	if errors.Is(err, meta.ErrNotFound) || err == nil && (u.Disabled || u.PasswordHash != meta.ExternalPassword) {
		return nil, errUnknownUser
	}
	if err != nil {
		return nil, err
	}
	link, err := s.store.OIDCIdentityOfUser(ctx, name)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errUnknownUser // made beforehand, never logged in
	}
	if err != nil {
		return nil, err
	}
	return &Subject{Name: u.Name, Kind: KindUser, Admin: u.Admin || link.Admin, Groups: slices.Clone(link.Groups),
		Source: config.AuthOIDC, fingerprint: fingerprint(link.Issuer + "\x00" + link.Subject)}, nil
}

// oidcBackend is the source of users of the oidc mode: it knows the
// stored users (for access tokens, refresh tokens and sessions) and no
// password.
type oidcBackend struct{ s *Service }

func (oidcBackend) Name() string { return config.AuthOIDC }

func (oidcBackend) Authenticate(context.Context, string, string) (*Subject, error) {
	return nil, errUnknownUser
}

func (b oidcBackend) Lookup(ctx context.Context, user string) (*Subject, error) {
	return b.s.oidcUser(ctx, user)
}

// IDTokenVerifier verifies the provider's ID tokens (internal/auth/oidc),
// for auth.oidc.api_bearer.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, raw string) (issuer, subject string, err error)
}

// idTokenSubject is the stored user an ID token of the provider names,
// or an error (ErrUnavailable when the provider cannot be reached).
func (s *Service) idTokenSubject(ctx context.Context, raw string) (*Subject, error) {
	iss, sub, err := s.idTokens.VerifyIDToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	link, err := s.store.OIDCIdentity(ctx, iss, sub)
	if err != nil {
		return nil, err
	}
	subj, err := s.lookupUser(ctx, link.User)
	if err != nil {
		return nil, err
	}
	subj.Source = "oidc-id-token"
	return subj, nil
}

// HasPasswords reports whether a source of users checks passwords
// (builtin, htpasswd, ldap): the login page then asks for one.
func (s *Service) HasPasswords() bool {
	for _, b := range s.backends {
		if b.Name() != config.AuthOIDC {
			return true
		}
	}
	return false
}

// ErrRefreshRefused: the provider refused a user's refresh token (the
// account is gone or disabled there, or the grant was revoked).
var ErrRefreshRefused = errors.New("the provider refused the refresh token")

// ExternalRefresher asks the provider, with a refresh token, who the user
// is now (internal/auth/oidc). Errors wrap ErrRefreshRefused when the
// provider refuses the token, ErrUnavailable when it cannot be reached.
type ExternalRefresher interface {
	Refresh(ctx context.Context, refreshToken string) (ExternalIdentity, error)
}

// RefreshExternal checks every stored single sign-on user that has a
// refresh token with the provider (auth.oidc.refresh_interval): their
// groups and admin flag become what the provider says now; a user whose
// token is refused loses every group and the admin flag until they log
// in again. It stops at the first ErrUnavailable (the provider is down:
// nothing is changed) and returns a report.
func (s *Service) RefreshExternal(ctx context.Context, r ExternalRefresher) (string, error) {
	links, err := s.store.OIDCIdentitiesWithRefresh(ctx)
	if err != nil {
		return "", err
	}
	var updated, refused int
	defer func() {
		if updated+refused > 0 {
			s.Invalidate()
		}
	}()
	for _, link := range links {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		id, err := r.Refresh(ctx, link.RefreshToken)
		switch {
		case errors.Is(err, ErrUnavailable):
			return fmt.Sprintf(`{"checked":%d,"refused":%d}`, updated, refused), err
		case err == nil && (id.Issuer != link.Issuer || id.Subject != link.Subject):
			err = fmt.Errorf("%w: the token names another account", ErrRefreshRefused)
		}
		if err != nil {
			s.log.InfoContext(ctx, "oidc: refresh refused; the user loses their groups until the next login", "user", link.User, "error", err)
			link.Groups, link.Admin, link.RefreshToken = nil, false, ""
			refused++
		} else {
			link.Groups, link.Admin, link.Email = id.Groups, id.Admin, id.Email
			if id.RefreshToken != "" {
				link.RefreshToken = id.RefreshToken
			}
			updated++
		}
		if err := s.store.UpdateOIDCIdentity(ctx, link); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return "", err
		}
	}
	return fmt.Sprintf(`{"checked":%d,"refused":%d}`, updated, refused), nil
}

// CreateExternalUser adds a user without a password, for an external
// login (OIDC) to link at the user's first login when auth.oidc.auto_onboard
// is off (the provider's user name claim must equal name).
func (m *Manager) CreateExternalUser(ctx context.Context, name string, admin bool) error {
	if err := validUser(name); err != nil {
		return err
	}
	if err := m.store.CreateUser(ctx, meta.User{Name: name, PasswordHash: meta.ExternalPassword, Admin: admin}); err != nil {
		return err
	}
	m.onChange()
	return nil
}
