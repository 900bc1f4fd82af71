package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Auth configures access control (docs/auth.md).
type Auth struct {
	// Mode is "none" (everyone may do everything) or a comma-separated
	// list of the sources of users: builtin (the metadata database),
	// htpasswd, ldap. Robot accounts and access tokens work with any of
	// them.
	Mode string `yaml:"mode"`
	// Admins are user names (of any source) that are system administrators.
	Admins []string `yaml:"admins"`
	// Admin is the initial builtin administrator, created on first start.
	Admin AuthAdmin `yaml:"admin"`
	// Htpasswd is the password file of the htpasswd mode.
	Htpasswd Htpasswd `yaml:"htpasswd"`
	// Token configures Docker token authentication.
	Token Token `yaml:"token"`
	// FailedLogins rate limits failed logins.
	FailedLogins FailedLogins `yaml:"failed_logins"`
	// LDAP configures the ldap mode.
	LDAP LDAP `yaml:"ldap"`
	// OIDC configures the oidc mode (single sign-on through an OpenID
	// Connect provider).
	OIDC OIDC `yaml:"oidc"`
	// AccessTokens bounds personal access tokens.
	AccessTokens AccessTokens `yaml:"access_tokens"`
	// WorkloadIdentity lets CI jobs log in as robots with their CI
	// system's OIDC tokens.
	WorkloadIdentity []WorkloadIdentity `yaml:"workload_identity"`
	// Network is the system-wide network rule of pulls and pushes.
	Network Network `yaml:"network"`
	// BcryptCost is the work factor of the password hashes Berth makes
	// (4..14; each step doubles the time of a login).
	BcryptCost int `yaml:"bcrypt_cost"`
}

// AuthAdmin is the initial administrator.
type AuthAdmin struct {
	Username string `yaml:"username"`
	// Password, when set, creates the user on start if it does not exist
	// yet (it never resets an existing user's password).
	Password string `yaml:"password"`
}

// Htpasswd is an Apache htpasswd file with bcrypt hashes (htpasswd -B).
type Htpasswd struct {
	Path string `yaml:"path"`
}

// Token configures the token endpoint and the tokens Berth accepts.
type Token struct {
	// Enabled makes 401 answers Bearer challenges pointing at the token
	// endpoint; false: Basic challenges only.
	Enabled bool `yaml:"enabled"`
	// Realm is the token endpoint URL clients are sent to; empty: derived
	// from each request (scheme and host, /token).
	Realm string `yaml:"realm"`
	// Service is the service name in challenges and the audience of tokens.
	Service string `yaml:"service"`
	// Issuer is the iss claim of the tokens Berth issues.
	Issuer string `yaml:"issuer"`
	// TTL is how long an access token is valid.
	TTL time.Duration `yaml:"ttl"`
	// RefreshTTL is how long a refresh token (docker's identity token) is valid.
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
	// Trusted are external token services whose tokens are accepted too.
	Trusted []TrustedIssuer `yaml:"trusted"`
}

// TrustedIssuer is an external token service.
type TrustedIssuer struct {
	Issuer string `yaml:"issuer"`
	// Certificate is a PEM file with the certificate(s) or public key(s)
	// that sign its tokens.
	Certificate string `yaml:"certificate"`
}

// FailedLogins bounds failed logins within a sliding window: per user
// name from one client address and per address, over the limit logins
// get 429 TOOMANYREQUESTS; per user name across addresses, logins are
// slowed down by Delay instead (the right password still works), so that
// nobody can lock another user out.
type FailedLogins struct {
	PerUser    int           `yaml:"per_user"`
	PerAddress int           `yaml:"per_address"`
	Window     time.Duration `yaml:"window"`
	Delay      time.Duration `yaml:"delay"`
}

// LDAP configures LDAP / Active Directory users.
type LDAP struct {
	// URL is ldap://host:389 or ldaps://host:636.
	URL                string `yaml:"url"`
	StartTLS           bool   `yaml:"start_tls"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// BindDN and BindPassword are the service account that searches users.
	BindDN       string `yaml:"bind_dn"`
	BindPassword string `yaml:"bind_password"`
	// UserBaseDN and UserFilter find a user; %s is the escaped user name.
	UserBaseDN string `yaml:"user_base_dn"`
	UserFilter string `yaml:"user_filter"`
	// GroupBaseDN and GroupFilter find a user's groups; %s is the user's
	// escaped DN. GroupNameAttribute names a group (cn). Empty
	// GroupBaseDN: groups come from the user's MemberOfAttribute instead.
	GroupBaseDN        string `yaml:"group_base_dn"`
	GroupFilter        string `yaml:"group_filter"`
	GroupNameAttribute string `yaml:"group_name_attribute"`
	MemberOfAttribute  string `yaml:"member_of_attribute"`
	// AdminGroup: members of this group are system administrators.
	AdminGroup string        `yaml:"admin_group"`
	Timeout    time.Duration `yaml:"timeout"`
}

// Auth modes.
const (
	AuthNone     = "none"
	AuthBuiltin  = "builtin"
	AuthHtpasswd = "htpasswd"
	AuthLDAP     = "ldap"
	AuthOIDC     = "oidc"
)

func defaultAuth() Auth {
	return Auth{
		Mode:         AuthNone,
		BcryptCost:   10,
		Admin:        AuthAdmin{Username: "admin"},
		Token:        Token{Enabled: true, Service: "berth", Issuer: "berth", TTL: 5 * time.Minute, RefreshTTL: 30 * 24 * time.Hour},
		FailedLogins: FailedLogins{PerUser: 10, PerAddress: 50, Window: 5 * time.Minute, Delay: 2 * time.Second},
		Network:      Network{AdminBypass: true},
		OIDC: OIDC{Name: "SSO", Scopes: []string{"openid", "profile", "email"}, UsernameClaim: "preferred_username",
			AutoOnboard: true, Timeout: 10 * time.Second, Leeway: time.Minute},
		LDAP: LDAP{UserFilter: "(uid=%s)", GroupFilter: "(|(member=%s)(uniqueMember=%s))",
			GroupNameAttribute: "cn", MemberOfAttribute: "memberOf", Timeout: 5 * time.Second},
	}
}

// Modes returns the configured sources of users (none for mode none).
func (a Auth) Modes() []string {
	if strings.TrimSpace(a.Mode) == AuthNone {
		return nil
	}
	var out []string
	for _, m := range strings.Split(a.Mode, ",") {
		out = append(out, strings.TrimSpace(m))
	}
	return out
}

// Enabled reports whether access control is on.
func (a Auth) Enabled() bool { return len(a.Modes()) > 0 }

// HasMode reports whether a source of users is configured.
func (a Auth) HasMode(m string) bool {
	for _, x := range a.Modes() {
		if x == m {
			return true
		}
	}
	return false
}

func (a Auth) validate(bad func(string, ...any)) {
	seen := map[string]bool{}
	for _, m := range a.Modes() {
		switch m {
		case AuthBuiltin, AuthHtpasswd, AuthLDAP, AuthOIDC:
		default:
			bad("auth.mode: %q is not none or a comma-separated list of builtin, htpasswd, ldap, oidc", a.Mode)
			return
		}
		if seen[m] {
			bad("auth.mode: %s named twice", m)
		}
		seen[m] = true
	}
	if a.HasMode(AuthHtpasswd) && a.Htpasswd.Path == "" {
		bad("auth.htpasswd.path: required with mode htpasswd")
	}
	if a.Admin.Password != "" && !a.HasMode(AuthBuiltin) {
		bad("auth.admin.password: needs mode builtin (the admin is a builtin user)")
	}
	if a.Admin.Password != "" && len(a.Admin.Password) < 8 {
		bad("auth.admin.password: at least 8 characters")
	}
	if a.Admin.Username == "" || strings.ContainsAny(a.Admin.Username, ":$ \t") {
		bad("auth.admin.username: %q is not a valid user name", a.Admin.Username)
	}
	t := a.Token
	if t.Service == "" || strings.ContainsAny(t.Service, "\"\\") {
		bad("auth.token.service: must be set, without quotes or backslashes")
	}
	if t.Issuer == "" {
		bad("auth.token.issuer: must be set")
	}
	if strings.ContainsAny(t.Realm, "\"\\") {
		bad("auth.token.realm: no quotes or backslashes")
	}
	if t.TTL < 10*time.Second || t.TTL > 24*time.Hour {
		bad("auth.token.ttl: %v is outside 10s..24h", t.TTL)
	}
	if t.RefreshTTL < t.TTL {
		bad("auth.token.refresh_ttl: shorter than auth.token.ttl")
	}
	for i, ti := range t.Trusted {
		if ti.Issuer == "" || ti.Certificate == "" {
			bad("auth.token.trusted[%d]: issuer and certificate are required", i)
		}
		if ti.Issuer == t.Issuer {
			bad("auth.token.trusted[%d]: issuer %q is Berth's own (auth.token.issuer)", i, ti.Issuer)
		}
	}
	if a.BcryptCost < 4 || a.BcryptCost > 14 {
		bad("auth.bcrypt_cost: %d is outside 4..14", a.BcryptCost)
	}
	f := a.FailedLogins
	if f.PerUser < 0 || f.PerAddress < 0 || f.Window < 0 || f.Delay < 0 {
		bad("auth.failed_logins: values must not be negative")
	}
	if f.Delay > 30*time.Second {
		bad("auth.failed_logins.delay: %v is over 30s", f.Delay)
	}
	if a.HasMode(AuthOIDC) {
		a.OIDC.validate(bad)
	}
	a.Network.validate(bad)
	validateWorkload(a.WorkloadIdentity, bad)
	if a.AccessTokens.MaxTTL < 0 {
		bad("auth.access_tokens.max_ttl: must not be negative")
	}
	if a.HasMode(AuthLDAP) {
		l := a.LDAP
		if !strings.HasPrefix(l.URL, "ldap://") && !strings.HasPrefix(l.URL, "ldaps://") {
			bad("auth.ldap.url: %q is not an ldap:// or ldaps:// URL", l.URL)
		}
		if l.UserBaseDN == "" {
			bad("auth.ldap.user_base_dn: required with mode ldap")
		}
		if strings.Count(l.UserFilter, "%s") != 1 {
			bad("auth.ldap.user_filter: must contain %%s once (the user name)")
		}
		if l.GroupBaseDN != "" && !strings.Contains(l.GroupFilter, "%s") {
			bad("auth.ldap.group_filter: must contain %%s (the user's DN)")
		}
		if l.Timeout <= 0 {
			bad("auth.ldap.timeout: must be positive")
		}
	}
}

// TrustedProxyPrefixes parses http.trusted_proxies.
func (h HTTP) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("http.trusted_proxies: %q is not an address or CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("http.trusted_proxies: %q is not an address or CIDR", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
