// Package auth is Berth's access control: who a request comes from
// (authentication) and what it may do (authorization).
//
// Users come from one or more sources (config auth.mode): the metadata
// database (builtin, bcrypt hashes), an htpasswd file, LDAP. Robot
// accounts (robot$project+name) and personal access tokens (bpat_...) are
// in the database and stand in for passwords everywhere. Requests carry
// HTTP Basic credentials, or Bearer tokens: short-lived JWTs that the
// token endpoint issues (Docker's token authentication) or that a trusted
// external token service signed.
//
// Permissions: a repository belongs to the project named by its first
// path component. Project members (users, LDAP groups) have a role:
// admin (pull, push, delete, members, settings), maintainer (pull, push,
// delete), developer (pull, push) or guest (pull). Public projects allow
// anyone to pull. System administrators may do everything. A bearer
// token grants exactly the access listed in its claims, computed from
// these rules when it was issued.
package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// Kind is the kind of a subject.
type Kind string

// Kinds of subjects.
const (
	KindAnonymous Kind = ""
	KindUser      Kind = "user"
	KindRobot     Kind = "robot"
	// KindExternal is the subject of a token from an external token
	// service: it may do what the token grants, nothing more.
	KindExternal Kind = "external"
)

// Subject is who a request acts as.
type Subject struct {
	Name   string
	Kind   Kind
	Admin  bool     // system administrator
	Groups []string // LDAP or OIDC groups
	Source string   // builtin, htpasswd, ldap, oidc, robot, token

	robot *meta.Robot
	// fingerprint binds refresh tokens to the credential used.
	fingerprint string
	// expires is when the credential used expires (a robot's, an access
	// token's); zero: never. The login cache forgets it then.
	expires time.Time
}

// Anonymous reports whether the subject is nobody in particular.
func (s *Subject) Anonymous() bool { return s == nil || s.Kind == KindAnonymous }

// Errors of authentication and authorization. The HTTP layer gets them as
// OCI errors (with a WWW-Authenticate challenge for 401s).
var (
	errUnknownUser = errors.New("unknown user")
	errBadPassword = errors.New("wrong password")
	// ErrUnavailable: a source of users (LDAP) could not be asked.
	ErrUnavailable = errors.New("authentication source unavailable")
)

// backend is a source of users.
type backend interface {
	Name() string
	// Authenticate checks a password: errUnknownUser, errBadPassword, or
	// an error wrapping ErrUnavailable.
	Authenticate(ctx context.Context, user, pw string) (*Subject, error)
	// Lookup finds a user without a password (to refresh a token).
	Lookup(ctx context.Context, user string) (*Subject, error)
}

// Service authenticates and authorizes requests. It is safe for
// concurrent use.
type Service struct {
	cfg      config.Auth
	store    meta.Store
	log      *slog.Logger
	now      func() time.Time
	backends []backend
	admins   map[string]bool
	proxies  []netip.Prefix
	// proxyRepo maps a pull the pull-through cache serves to its cache
	// repository (Options.ProxyRepo).
	proxyRepo func(ctx context.Context, repo string) (string, bool)
	keys      *keyring
	trusted   []trustedIssuer
	users     *limiter // failed logins per user name, across addresses (slows down)
	pairs     *limiter // failed logins per user name and client address (refuses)
	addrs     *limiter // failed logins per client address (refuses)
	cache     credCache
	live      liveCache // subjects of tokens re-checked for management calls
	public    publicCache
	workload  WorkloadVerifier
	idTokens  IDTokenVerifier // nil: ID tokens are not accepted
	nets      netRules        // network rules of projects and robots
	sysNet    netRule         // auth.network

	observeLogin func(result string, d time.Duration)
}

// Options are what New needs besides the auth configuration.
type Options struct {
	// TrustedProxies may set X-Forwarded-* headers.
	TrustedProxies []netip.Prefix
	// LDAP, when the ldap mode is on, authenticates LDAP users.
	LDAP LDAPAuthenticator
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// ProxyRepo returns the cache repository a pull of repo without ?ns=
	// reads when an upstream serves it (mirror mode, project prefixes);
	// nil when nothing is proxied. Tokens for such pulls are granted
	// against the cache repository's project, like the pulls themselves.
	ProxyRepo func(ctx context.Context, repo string) (string, bool)
	// IDTokens, when auth.oidc.api_bearer is on, verifies the provider's
	// ID tokens sent as Bearer tokens to /api/.
	IDTokens IDTokenVerifier
	// Workload verifies CI systems' OIDC tokens for
	// auth.workload_identity (nil: none configured).
	Workload WorkloadVerifier
	// ObserveLogin, if set, gets the outcome of every password login
	// (LoginSuccess, LoginCached, ...) and how long it took (for metrics).
	ObserveLogin func(result string, d time.Duration)
}

// Login outcomes, as ObserveLogin names them.
const (
	LoginSuccess     = "success"     // credentials checked and accepted
	LoginCached      = "cached"      // accepted from the recent-logins cache
	LoginFailure     = "failure"     // wrong user name or password
	LoginThrottled   = "throttled"   // refused: too many failed logins
	LoginUnavailable = "unavailable" // a source of users did not answer
)

// LDAPAuthenticator is the LDAP source of users (internal/auth/ldap).
type LDAPAuthenticator interface {
	// Authenticate binds as the user; it returns the user's groups and
	// whether they are an administrator. Errors: ErrUnknownUser,
	// ErrBadPassword, or one wrapping ErrUnavailable.
	Authenticate(ctx context.Context, user, pw string) (groups []string, admin bool, err error)
	// Lookup finds a user (for token refresh): their groups and admin flag.
	Lookup(ctx context.Context, user string) (groups []string, admin bool, err error)
}

// Errors an LDAPAuthenticator returns.
var (
	ErrUnknownUser = errUnknownUser
	ErrBadPassword = errBadPassword
)

// New builds the service for an enabled configuration: it opens the
// sources of users, loads (or creates) the token signing key, reads the
// trusted token issuers' keys and creates the initial administrator.
func New(ctx context.Context, cfg config.Auth, store meta.Store, log *slog.Logger, o Options) (*Service, error) {
	s := &Service{cfg: cfg, store: store, log: log, now: o.Now, proxies: o.TrustedProxies, proxyRepo: o.ProxyRepo,
		admins: map[string]bool{}, observeLogin: o.ObserveLogin, workload: o.Workload, idTokens: o.IDTokens}
	if len(cfg.WorkloadIdentity) > 0 && s.workload == nil {
		return nil, fmt.Errorf("auth.workload_identity: no verifier")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.observeLogin == nil {
		s.observeLogin = func(string, time.Duration) {}
	}
	for _, a := range cfg.Admins {
		s.admins[a] = true
	}
	for _, m := range cfg.Modes() {
		switch m {
		case config.AuthBuiltin:
			s.backends = append(s.backends, builtin{store, cfg.BcryptCost})
		case config.AuthHtpasswd:
			h, err := newHtpasswd(cfg.Htpasswd.Path, log)
			if err != nil {
				return nil, err
			}
			s.backends = append(s.backends, h)
		case config.AuthLDAP:
			if o.LDAP == nil {
				return nil, fmt.Errorf("auth: mode ldap without an LDAP client")
			}
			s.backends = append(s.backends, ldapBackend{o.LDAP})
		case config.AuthOIDC:
			s.backends = append(s.backends, oidcBackend{s})
		}
	}
	s.users = newLimiter(cfg.FailedLogins.PerUser, cfg.FailedLogins.Window, s.now)
	s.pairs = newLimiter(cfg.FailedLogins.PerUser, cfg.FailedLogins.Window, s.now)
	s.addrs = newLimiter(cfg.FailedLogins.PerAddress, cfg.FailedLogins.Window, s.now)
	s.cache.init(s.now)
	s.live.init(s.now)
	sysRule, err := parseRule(meta.NetworkRule{Pull: cfg.Network.Pull, Push: cfg.Network.Push})
	if err != nil {
		return nil, fmt.Errorf("auth.network: %w", err)
	}
	s.sysNet = sysRule
	if s.trusted, err = loadTrusted(cfg.Token.Trusted); err != nil {
		return nil, err
	}
	if s.keys, err = newKeyring(ctx, store, cfg.Token, s.now, log); err != nil {
		return nil, err
	}
	if err := s.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// bootstrapAdmin creates auth.admin when its password is configured and
// the user does not exist; without one, it warns when nobody can
// administer the registry.
func (s *Service) bootstrapAdmin(ctx context.Context) error {
	a := s.cfg.Admin
	if a.Password == "" {
		if s.cfg.HasMode(config.AuthBuiltin) && len(s.cfg.Admins) == 0 {
			if n, err := s.store.CountAdmins(ctx); err == nil && n == 0 {
				s.log.Warn("no administrator exists: set auth.admin.password (BERTH_AUTH_ADMIN_PASSWORD) or run `berth user add NAME --admin`")
			}
		}
		return nil
	}
	_, err := s.store.User(ctx, a.Username)
	if err == nil {
		return nil
	}
	if !errors.Is(err, meta.ErrNotFound) {
		return err
	}
	hash, err := HashPassword(a.Password, s.cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("auth.admin.password: %w", err)
	}
	err = s.store.CreateUser(ctx, meta.User{Name: a.Username, PasswordHash: hash, Admin: true})
	if err != nil && !errors.Is(err, meta.ErrExists) { // another instance was first
		return err
	}
	s.log.Info("initial administrator created", "user", a.Username)
	return nil
}

// builtin is the database source of users.
type builtin struct {
	store meta.Store
	cost  int // of bcrypt
}

func (builtin) Name() string { return config.AuthBuiltin }

func (b builtin) Authenticate(ctx context.Context, user, pw string) (*Subject, error) {
	u, err := b.store.User(ctx, user)
	if errors.Is(err, meta.ErrNotFound) || err == nil && (u.Disabled || u.PasswordHash == meta.ExternalPassword) {
		// A disabled user is refused as an unknown one, in the same time;
		// so is a user of an external login (no password here).
		if err := dummyCheck(ctx, pw, b.cost); err != nil {
			return nil, err
		}
		return nil, errUnknownUser
	}
	if err != nil {
		return nil, err
	}
	if ok, err := checkBcrypt(ctx, u.PasswordHash, pw); err != nil || !ok {
		return nil, cmp.Or(err, errBadPassword)
	}
	return &Subject{Name: u.Name, Kind: KindUser, Admin: u.Admin, Source: config.AuthBuiltin, fingerprint: fingerprint(u.PasswordHash)}, nil
}

func (b builtin) Lookup(ctx context.Context, user string) (*Subject, error) {
	u, err := b.store.User(ctx, user)
	if errors.Is(err, meta.ErrNotFound) || err == nil && (u.Disabled || u.PasswordHash == meta.ExternalPassword) {
		return nil, errUnknownUser // a disabled user's sessions and tokens end
	}
	if err != nil {
		return nil, err
	}
	return &Subject{Name: u.Name, Kind: KindUser, Admin: u.Admin, Source: config.AuthBuiltin, fingerprint: fingerprint(u.PasswordHash)}, nil
}

// ldapBackend adapts an LDAPAuthenticator.
type ldapBackend struct{ l LDAPAuthenticator }

func (ldapBackend) Name() string { return config.AuthLDAP }

func (b ldapBackend) Authenticate(ctx context.Context, user, pw string) (*Subject, error) {
	groups, admin, err := b.l.Authenticate(ctx, user, pw)
	if err != nil {
		return nil, err
	}
	return &Subject{Name: user, Kind: KindUser, Admin: admin, Groups: groups, Source: config.AuthLDAP}, nil
}

func (b ldapBackend) Lookup(ctx context.Context, user string) (*Subject, error) {
	groups, admin, err := b.l.Lookup(ctx, user)
	if err != nil {
		return nil, err
	}
	return &Subject{Name: user, Kind: KindUser, Admin: admin, Groups: groups, Source: config.AuthLDAP}, nil
}

// RobotPrefix starts every robot account name.
const RobotPrefix = "robot$"

// checkPassword tries robots, access tokens, then each source of users.
func (s *Service) checkPassword(ctx context.Context, user, pw string) (*Subject, error) {
	if strings.HasPrefix(user, RobotPrefix) {
		return s.robotLogin(ctx, user, pw)
	}
	if id := accessTokenID(pw); id != "" {
		return s.tokenLogin(ctx, user, id, pw)
	}
	var unavailable error
	known := false
	for _, b := range s.backends {
		subj, err := b.Authenticate(ctx, user, pw)
		switch {
		case err == nil:
			return subj, nil
		case errors.Is(err, errUnknownUser):
		case errors.Is(err, errBadPassword):
			known = true
		case errors.Is(err, ErrUnavailable):
			unavailable = err
		default:
			return nil, err
		}
	}
	// A source that could not be asked matters only when no other one
	// knew the user.
	if unavailable != nil && !known {
		return nil, unavailable
	}
	return nil, errBadPassword
}

func (s *Service) robotLogin(ctx context.Context, name, secret string) (*Subject, error) {
	r, err := s.store.Robot(ctx, name)
	if errors.Is(err, meta.ErrNotFound) {
		secretMatches(secret, "")
		return nil, errUnknownUser
	}
	if err != nil {
		return nil, err
	}
	if s.expired(r.ExpiresAt) {
		return nil, errBadPassword
	}
	if s.workload != nil && looksLikeJWT(secret) {
		return s.workloadLogin(ctx, r, secret)
	}
	if !secretMatches(secret, r.SecretHash) {
		return nil, errBadPassword
	}
	return robotSubject(r), nil
}

func robotSubject(r meta.Robot) *Subject {
	return &Subject{Name: r.Name, Kind: KindRobot, Source: "robot", robot: &r, fingerprint: fingerprint(r.SecretHash), expires: r.ExpiresAt}
}

func (s *Service) expired(t time.Time) bool { return !t.IsZero() && !s.now().Before(t) }

// tokenLogin checks a personal access token; its user is who logs in.
func (s *Service) tokenLogin(ctx context.Context, user, id, token string) (*Subject, error) {
	t, err := s.store.AccessToken(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		secretMatches(token, "")
		return nil, errBadPassword
	}
	if err != nil {
		return nil, err
	}
	if !secretMatches(token, t.SecretHash) || t.User != user || s.expired(t.ExpiresAt) {
		return nil, errBadPassword
	}
	subj, err := s.lookupUser(ctx, user)
	if err != nil {
		return nil, errBadPassword
	}
	subj.Source = "access-token"
	subj.fingerprint = "pat:" + t.ID + ":" + fingerprint(t.SecretHash)
	subj.expires = t.ExpiresAt
	return subj, nil
}

// lookupUser finds a user in the sources of users, without a password.
func (s *Service) lookupUser(ctx context.Context, user string) (*Subject, error) {
	for _, b := range s.backends {
		subj, err := b.Lookup(ctx, user)
		if err == nil {
			if s.admins[subj.Name] {
				subj.Admin = true
			}
			return subj, nil
		}
		if !errors.Is(err, errUnknownUser) {
			return nil, err
		}
	}
	return nil, errUnknownUser
}

// Invalidate forgets cached logins, re-checked token subjects and
// projects' visibility; management changes (users, passwords, robots,
// tokens, roles, projects) call it.
func (s *Service) Invalidate() {
	s.cache.clear()
	s.live.clear()
	s.public.clear()
	s.nets.invalidate()
}

// identity is what the Authorization header of a request established.
type identity struct {
	subj   *Subject // nil: anonymous
	err    error    // bad or refused credentials
	bearer bool     // from a token: access is exactly what it grants
	access []Access
	// anonPull is the repository CheckRepo let this request pull without
	// credentials: proof that it is public, for Public, at no cost.
	anonPull string
}

type identityKey struct{}

// Middleware authenticates every request that carries an Authorization
// header (except the token endpoint, which does it itself) and records the
// subject for the authorization checks and the access log.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath {
			next.ServeHTTP(w, r)
			return
		}
		id := s.authenticate(r)
		ctx := r.Context()
		if id.subj != nil {
			api.Info(r).User = id.subj.Name
			ctx = meta.WithEventSource(ctx, id.subj.Name, "") // the actor of the events its changes record
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, identityKey{}, id)))
	})
}

func (s *Service) authenticate(r *http.Request) *identity {
	c, ok := ParseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return &identity{err: s.unauthorized("malformed Authorization header")}
	}
	switch c.Scheme {
	case "basic":
		subj, err := s.Login(r.Context(), c.Username, c.Password, s.ClientAddr(r))
		return &identity{subj: subj, err: err}
	case "bearer":
		claims, err := s.keys.verify(r.Context(), c.Token, s.cfg.Token.Service, s.trusted)
		if err != nil && s.idTokens != nil && strings.HasPrefix(r.URL.Path, "/api/") {
			// The provider's ID token of a user (auth.oidc.api_bearer):
			// the stored user, as with a password.
			subj, ierr := s.idTokenSubject(r.Context(), c.Token)
			if ierr == nil {
				return &identity{subj: subj}
			}
			s.log.InfoContext(r.Context(), "ID token rejected", "reason", ierr.Error(), "remote", s.ClientAddr(r))
		}
		if err != nil {
			s.log.InfoContext(r.Context(), "token rejected", "reason", err.Error(), "remote", s.ClientAddr(r))
			return &identity{err: s.invalidToken()}
		}
		return &identity{subj: claims.subject(s.cfg.Token.Issuer), bearer: true, access: claims.Access}
	}
	return &identity{}
}

func identityOf(r *http.Request) *identity {
	if id, ok := r.Context().Value(identityKey{}).(*identity); ok {
		return id
	}
	return &identity{}
}

// SubjectOf returns the authenticated subject of a request (nil when
// anonymous or not authenticated).
func SubjectOf(r *http.Request) *Subject { return SubjectFromContext(r.Context()) }

// SubjectFromContext is SubjectOf for code that has only the request's
// context (the registry service's pull gates).
func SubjectFromContext(ctx context.Context) *Subject {
	id, ok := ctx.Value(identityKey{}).(*identity)
	if !ok || id.err != nil {
		return nil
	}
	return id.subj
}
