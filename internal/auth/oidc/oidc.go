// Package oidc is single sign-on through an OpenID Connect provider:
// the authorization code flow with PKCE, state and nonce, and the
// verification of the ID token (signature by the provider's published
// keys, refetched when a token names a new key; issuer; audience; expiry
// with a small leeway) by github.com/coreos/go-oidc. It turns a verified
// login into an auth.ExternalIdentity: who the user is (a claim chosen by
// configuration) and their groups, which auth keeps and maps to project
// roles like LDAP groups.
//
// A provider that cannot be reached is reported as auth.ErrUnavailable:
// the login page says so, and local users log in as usual. Discovery is
// retried at each login until it succeeds, so Berth starts while the
// provider is down.
package oidc

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
)

// ErrRejected: the provider's answer was refused (an error from the
// provider, a bad or missing ID token, a nonce that does not match, a
// claim missing): the login fails, with the reason in the log.
var ErrRejected = errors.New("OIDC login rejected")

// Provider is a configured OpenID Connect provider.
type Provider struct {
	cfg    config.OIDC
	log    *slog.Logger
	client *http.Client
	groups *regexp.Regexp // nil: every group
	now    func() time.Time

	mu         sync.Mutex
	provider   *gooidc.Provider // nil until discovery succeeded
	endSession string
}

// Options are what New needs besides the configuration.
type Options struct {
	// Now is the clock the ID token's expiry is checked against (tests).
	Now func() time.Time
	// Transport, if set, carries the requests to the provider (tests).
	Transport http.RoundTripper
}

// New returns the provider of the configuration (auth.oidc); it reads the
// extra CA file but does not contact the provider yet.
func New(cfg config.OIDC, log *slog.Logger, o Options) (*Provider, error) {
	p := &Provider{cfg: cfg, log: log, now: o.Now}
	if p.now == nil {
		p.now = time.Now
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("auth.oidc.ca_file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("auth.oidc.ca_file: no certificates in %s", cfg.CAFile)
			}
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
		}
		tr = t
	}
	p.client = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	if cfg.GroupFilter != "" {
		re, err := regexp.Compile(cfg.GroupFilter)
		if err != nil {
			return nil, fmt.Errorf("auth.oidc.group_filter: %w", err)
		}
		p.groups = re
	}
	return p, nil
}

// Name is the provider's name for the login page.
func (p *Provider) Name() string { return p.cfg.Name }

func (p *Provider) unavailable(what string, err error) error {
	return fmt.Errorf("%w: OIDC provider %s: %s: %v", auth.ErrUnavailable, p.cfg.Issuer, what, err)
}

// discover returns the provider's metadata, fetched once (retried while
// it fails).
func (p *Provider) discover(ctx context.Context) (*gooidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	// The key set keeps this context for its later fetches: without the
	// request's cancellation.
	kctx := gooidc.ClientContext(context.WithoutCancel(ctx), p.client)
	prov, err := gooidc.NewProvider(kctx, p.cfg.Issuer)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("%w: auth.oidc.issuer %q: the provider calls itself %q", ErrRejected, mismatch.Provided, mismatch.Discovered)
		}
		return nil, p.unavailable("discovery", err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := prov.Claims(&extra); err == nil {
		p.endSession = extra.EndSession
	}
	p.provider = prov
	return prov, nil
}

func (p *Provider) oauth2(prov *gooidc.Provider, redirectURL string) *oauth2.Config {
	scopes := []string{gooidc.ScopeOpenID}
	for _, s := range p.cfg.Scopes {
		if s != gooidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint: prov.Endpoint(), RedirectURL: redirectURL, Scopes: scopes}
}

// Flow is what a login in progress keeps between the redirect to the
// provider and the callback (in a short-lived cookie): the state to
// compare with the callback's, the nonce the ID token must carry and the
// PKCE verifier.
type Flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Start begins a login: the URL of the provider's authorization endpoint
// to send the browser to, and the flow to keep for the callback.
func (p *Provider) Start(ctx context.Context, redirectURL string) (string, Flow, error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return "", Flow{}, err
	}
	f := Flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	u := p.oauth2(prov, redirectURL).AuthCodeURL(f.State, gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return u, f, nil
}

// Finish completes a login: it exchanges the code (with the PKCE
// verifier) for tokens, verifies the ID token and its nonce, and returns
// who logged in.
func (p *Provider) Finish(ctx context.Context, redirectURL, code string, f Flow) (auth.ExternalIdentity, error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return auth.ExternalIdentity{}, err
	}
	ctx = gooidc.ClientContext(ctx, p.client)
	conf := p.oauth2(prov, redirectURL)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return auth.ExternalIdentity{}, fmt.Errorf("%w: the token endpoint refused the code: %s %s", ErrRejected, re.ErrorCode, re.ErrorDescription)
		}
		return auth.ExternalIdentity{}, p.unavailable("token endpoint", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return auth.ExternalIdentity{}, fmt.Errorf("%w: no id_token in the token response", ErrRejected)
	}
	idt, err := p.verifier(prov).Verify(ctx, raw)
	if err != nil {
		return auth.ExternalIdentity{}, fmt.Errorf("%w: ID token: %v", ErrRejected, err)
	}
	if idt.Nonce != f.Nonce {
		return auth.ExternalIdentity{}, fmt.Errorf("%w: ID token: the nonce does not match this login", ErrRejected)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return auth.ExternalIdentity{}, fmt.Errorf("%w: ID token claims: %v", ErrRejected, err)
	}
	if p.cfg.GroupsClaim != "" && claims[p.cfg.GroupsClaim] == nil && prov.UserInfoEndpoint() != "" {
		// Some providers put groups only in the userinfo answer.
		if ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			var more map[string]any
			if ui.Claims(&more) == nil && more[p.cfg.GroupsClaim] != nil {
				claims[p.cfg.GroupsClaim] = more[p.cfg.GroupsClaim]
			}
		}
	}
	id, err := p.identity(idt.Issuer, idt.Subject, claims)
	if p.cfg.RefreshInterval > 0 {
		id.RefreshToken = tok.RefreshToken
	}
	return id, err
}

// VerifyIDToken checks an ID token of the provider for this client
// (signature, issuer, audience, expiry) and returns whose it is.
func (p *Provider) VerifyIDToken(ctx context.Context, raw string) (string, string, error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return "", "", err
	}
	idt, err := p.verifier(prov).Verify(gooidc.ClientContext(ctx, p.client), raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: ID token: %v", ErrRejected, err)
	}
	return idt.Issuer, idt.Subject, nil
}

// Refresh asks the provider who the holder of a refresh token is now:
// the groups of a new ID token (or of the userinfo answer). Errors wrap
// auth.ErrRefreshRefused or auth.ErrUnavailable.
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (auth.ExternalIdentity, error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return auth.ExternalIdentity{}, err
	}
	ctx = gooidc.ClientContext(ctx, p.client)
	tok, err := p.oauth2(prov, "").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return auth.ExternalIdentity{}, fmt.Errorf("%w: %s %s", auth.ErrRefreshRefused, re.ErrorCode, re.ErrorDescription)
		}
		return auth.ExternalIdentity{}, p.unavailable("token endpoint", err)
	}
	var claims map[string]any
	var issuer, subject string
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		idt, err := p.verifier(prov).Verify(ctx, raw)
		if err != nil {
			return auth.ExternalIdentity{}, fmt.Errorf("%w: ID token: %v", auth.ErrRefreshRefused, err)
		}
		if err := idt.Claims(&claims); err != nil {
			return auth.ExternalIdentity{}, fmt.Errorf("%w: ID token claims: %v", auth.ErrRefreshRefused, err)
		}
		issuer, subject = idt.Issuer, idt.Subject
	} else {
		ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return auth.ExternalIdentity{}, p.unavailable("userinfo", err)
		}
		if err := ui.Claims(&claims); err != nil {
			return auth.ExternalIdentity{}, fmt.Errorf("%w: userinfo: %v", auth.ErrRefreshRefused, err)
		}
		issuer, subject = p.cfg.Issuer, ui.Subject
	}
	id, err := p.identity(issuer, subject, claims)
	if err != nil {
		return id, fmt.Errorf("%w: %v", auth.ErrRefreshRefused, err)
	}
	if tok.RefreshToken != refreshToken {
		id.RefreshToken = tok.RefreshToken // rotated
	}
	return id, nil
}

// verifier checks signature (keys refetched for an unknown key id),
// issuer, audience (the client id) and expiry, allowing Leeway of skew.
func (p *Provider) verifier(prov *gooidc.Provider) *gooidc.IDTokenVerifier {
	leeway := p.cfg.Leeway
	return prov.Verifier(&gooidc.Config{ClientID: p.cfg.ClientID, Now: func() time.Time { return p.now().Add(-leeway) }})
}

// identity reads the user name and groups from verified claims.
func (p *Provider) identity(issuer, subject string, claims map[string]any) (auth.ExternalIdentity, error) {
	id := auth.ExternalIdentity{Issuer: issuer, Subject: subject}
	id.Email, _ = claims["email"].(string)
	for _, c := range []string{p.cfg.UsernameClaim, "email", "sub"} {
		if v, ok := claims[c].(string); ok && v != "" {
			id.Username = v
			break
		}
	}
	if id.Username == "" {
		return id, fmt.Errorf("%w: the ID token names no user (claims %s, email, sub)", ErrRejected, p.cfg.UsernameClaim)
	}
	all := stringList(claims[p.cfg.GroupsClaim])
	if p.cfg.GroupsClaim == "" {
		all = nil
	}
	for _, g := range all {
		if p.cfg.AdminGroup != "" && g == p.cfg.AdminGroup {
			id.Admin = true
		}
		if p.groups == nil || p.groups.MatchString(g) {
			id.Groups = append(id.Groups, g)
		}
	}
	slices.Sort(id.Groups)
	id.Groups = slices.Compact(id.Groups)
	return id, nil
}

// stringList reads a claim that is a list of strings, or one string.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" && !strings.ContainsAny(s, "\x00\n") {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// LogoutURL is where to send the browser to end the session at the
// provider too (RP-initiated logout), or "" when logout at the provider
// is off or the provider offers none.
func (p *Provider) LogoutURL(ctx context.Context, postLogout string) string {
	if !p.cfg.Logout {
		return ""
	}
	if _, err := p.discover(ctx); err != nil {
		return ""
	}
	p.mu.Lock()
	end := p.endSession
	p.mu.Unlock()
	if end == "" {
		return ""
	}
	q := "client_id=" + url.QueryEscape(p.cfg.ClientID) + "&post_logout_redirect_uri=" + url.QueryEscape(postLogout)
	if strings.Contains(end, "?") {
		return end + "&" + q
	}
	return end + "?" + q
}
