package config

import (
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
)

// OIDC configures single sign-on through an OpenID Connect provider
// (authorization code flow with PKCE). Users it logs in are kept in the
// database, linked to the provider's account; their groups (GroupsClaim)
// are members of projects like LDAP groups.
type OIDC struct {
	// Name is the provider's name on the login page ("Sign in with Name").
	Name string `yaml:"name"`
	// Issuer is the provider's issuer URL; its discovery document is
	// Issuer + /.well-known/openid-configuration.
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectURL is Berth's callback as registered at the provider:
	// https://registry.example.com/ui/oidc/callback. Empty: derived from
	// each request (scheme and host), like the token realm.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes asked for; openid is always added.
	Scopes []string `yaml:"scopes"`
	// UsernameClaim names the user; when the token lacks it, email, then
	// sub, name them.
	UsernameClaim string `yaml:"username_claim"`
	// GroupsClaim holds the user's groups (a list of strings); empty: no
	// groups.
	GroupsClaim string `yaml:"groups_claim"`
	// GroupFilter, a regular expression, keeps only the groups it matches
	// (empty: all).
	GroupFilter string `yaml:"group_filter"`
	// AdminGroup: members of this group are system administrators.
	AdminGroup string `yaml:"admin_group"`
	// AutoOnboard creates a user at their first login; false: only users
	// an administrator created beforehand (berth user add --oidc) log in,
	// others see a page saying so.
	AutoOnboard bool `yaml:"auto_onboard"`
	// CAFile is a PEM file of extra certificate authorities for the
	// provider's TLS certificate.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds each request to the provider.
	Timeout time.Duration `yaml:"timeout"`
	// Leeway is the clock skew allowed on the ID token's exp and iat.
	Leeway time.Duration `yaml:"leeway"`
	// RefreshInterval, when not 0, checks every so often with each user's
	// refresh token what groups the provider gives them now (between
	// logins), ending the access of groups a user left; a user whose
	// refresh token the provider refuses loses every group until they log
	// in again. Providers give refresh tokens for the offline_access scope
	// (most) or by default (some).
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// APIBearer accepts the provider's ID tokens (for this client id) as
	// Bearer tokens on the management API (/api/v1), for automation that
	// already holds one; the user must have logged in once.
	APIBearer bool `yaml:"api_bearer"`
	// Logout logs out at the provider too (RP-initiated logout, when its
	// discovery document names an end_session_endpoint).
	Logout bool `yaml:"logout"`
}

func (o OIDC) validate(bad func(string, ...any)) {
	if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("auth.oidc.issuer: %q is not an http(s) URL", o.Issuer)
	}
	if o.ClientID == "" {
		bad("auth.oidc.client_id: required with mode oidc")
	}
	if o.RedirectURL != "" {
		if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" || !strings.HasSuffix(u.Path, "/ui/oidc/callback") {
			bad("auth.oidc.redirect_url: %q is not an absolute URL ending in /ui/oidc/callback", o.RedirectURL)
		}
	}
	if o.UsernameClaim == "" {
		bad("auth.oidc.username_claim: must be set")
	}
	if _, err := regexp.Compile(o.GroupFilter); err != nil {
		bad("auth.oidc.group_filter: %v", err)
	}
	if o.Name == "" || len(o.Name) > 64 {
		bad("auth.oidc.name: 1 to 64 characters")
	}
	if o.Timeout <= 0 {
		bad("auth.oidc.timeout: must be positive")
	}
	if o.RefreshInterval != 0 && (o.RefreshInterval < time.Minute || o.RefreshInterval > 7*24*time.Hour) {
		bad("auth.oidc.refresh_interval: %v is outside 1m..168h (or 0s: off)", o.RefreshInterval)
	}
	if o.Leeway < 0 || o.Leeway > 10*time.Minute {
		bad("auth.oidc.leeway: %v is outside 0..10m", o.Leeway)
	}
}

// AccessTokens bounds personal access tokens.
type AccessTokens struct {
	// MaxTTL is the longest lifetime a user may give a token; 0: no
	// bound (tokens may never expire).
	MaxTTL time.Duration `yaml:"max_ttl"`
}

// WorkloadIdentity lets a CI job log in as a robot account with the OIDC
// token its CI system gives it (GitHub Actions, GitLab CI), instead of a
// stored secret: the token must be signed by Issuer's published keys, be
// for Audience, be unexpired, and carry every claim of Claims (values are
// path.Match patterns: "refs/heads/*").
type WorkloadIdentity struct {
	Robot    string            `yaml:"robot"`
	Issuer   string            `yaml:"issuer"`
	Audience string            `yaml:"audience"`
	Claims   map[string]string `yaml:"claims"`
}

func validateWorkload(ws []WorkloadIdentity, bad func(string, ...any)) {
	for i, w := range ws {
		if !strings.HasPrefix(w.Robot, "robot$") {
			bad("auth.workload_identity[%d].robot: %q is not a robot account (robot$...)", i, w.Robot)
		}
		if u, err := url.Parse(w.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("auth.workload_identity[%d].issuer: %q is not an http(s) URL", i, w.Issuer)
		}
		if w.Audience == "" {
			bad("auth.workload_identity[%d].audience: required", i)
		}
		if len(w.Claims) == 0 {
			bad("auth.workload_identity[%d].claims: at least one condition is required (every job of the CI system gets tokens of its issuer)", i)
		}
		for k, v := range w.Claims {
			if _, err := path.Match(v, ""); err != nil || k == "" {
				bad("auth.workload_identity[%d].claims.%s: %q is not a valid pattern", i, k, v)
			}
		}
	}
}
