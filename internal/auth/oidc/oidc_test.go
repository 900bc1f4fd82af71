package oidc_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/oidc"
	"github.com/berth-registry/berth/internal/auth/oidc/oidctest"
	"github.com/berth-registry/berth/internal/config"
)

const redirect = "http://127.0.0.1:1/ui/oidc/callback"

func newProvider(t *testing.T, is *oidctest.Issuer, edit func(*config.OIDC)) *oidc.Provider {
	t.Helper()
	cfg := config.Default().Auth.OIDC
	cfg.Issuer, cfg.ClientID, cfg.ClientSecret = is.URL, is.ClientID, "secret"
	cfg.GroupsClaim = "groups"
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidc.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// login runs the code flow as a browser would: to the provider, back to
// the callback with a code and the state, then Finish.
func login(t *testing.T, p *oidc.Provider) (auth.ExternalIdentity, error) {
	t.Helper()
	ctx := context.Background()
	to, flow, err := p.Start(ctx, redirect)
	if err != nil {
		return auth.ExternalIdentity{}, err
	}
	q := mustURL(t, to).Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") != flow.Nonce || q.Get("state") != flow.State || q.Get("redirect_uri") != redirect {
		t.Fatalf("authorization URL %s lacks PKCE, nonce, state or redirect", to)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(to)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back := mustURL(t, res.Header.Get("Location")).Query()
	if back.Get("state") != flow.State {
		t.Fatalf("state came back as %q", back.Get("state"))
	}
	return p.Finish(ctx, redirect, back.Get("code"), flow)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLoginClaims(t *testing.T) {
	is := oidctest.Start(t)
	tests := []struct {
		name       string
		cfg        func(*config.OIDC)
		claims     jwt.MapClaims
		wantUser   string
		wantGroups []string
		wantAdmin  bool
	}{
		{"preferred_username and groups", nil,
			jwt.MapClaims{"preferred_username": "jane", "email": "jane@example.com", "groups": []any{"devs", "ops", "devs"}},
			"jane", []string{"devs", "ops"}, false},
		{"fallback to email", nil, jwt.MapClaims{"email": "jane@example.com"}, "jane@example.com", nil, false},
		{"fallback to sub", nil, jwt.MapClaims{}, "user-1", nil, false},
		{"another claim", func(c *config.OIDC) { c.UsernameClaim = "upn" },
			jwt.MapClaims{"upn": "jdoe", "preferred_username": "jane"}, "jdoe", nil, false},
		{"one group as a string", nil, jwt.MapClaims{"preferred_username": "jane", "groups": "devs"}, "jane", []string{"devs"}, false},
		{"group filter and admin group", func(c *config.OIDC) { c.GroupFilter = "^registry-"; c.AdminGroup = "admins" },
			jwt.MapClaims{"preferred_username": "jane", "groups": []any{"registry-devs", "admins", "sales", 42}},
			"jane", []string{"registry-devs"}, true},
		{"no groups claim configured", func(c *config.OIDC) { c.GroupsClaim = "" },
			jwt.MapClaims{"preferred_username": "jane", "groups": []any{"devs"}}, "jane", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is.Claims = tc.claims
			id, err := login(t, newProvider(t, is, tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			if id.Username != tc.wantUser || !slices.Equal(id.Groups, tc.wantGroups) || id.Admin != tc.wantAdmin {
				t.Fatalf("identity %+v, want user %s groups %v admin %v", id, tc.wantUser, tc.wantGroups, tc.wantAdmin)
			}
			if id.Issuer != is.URL || id.Subject != "user-1" {
				t.Fatalf("issuer %q subject %q", id.Issuer, id.Subject)
			}
		})
	}
}

// Every ID token that is not exactly right is refused.
func TestLoginRefusesBadIDTokens(t *testing.T) {
	is := oidctest.Start(t)
	p := newProvider(t, is, nil) // leeway 1m
	signed := func(edit func(jwt.MapClaims)) func(jwt.MapClaims) string {
		return func(c jwt.MapClaims) string {
			c["preferred_username"] = "jane"
			edit(c)
			return is.Sign(t, c, false)
		}
	}
	tests := []struct {
		name string
		mint func(jwt.MapClaims) string
		ok   bool
	}{
		{"good", signed(func(jwt.MapClaims) {}), true},
		{"expired within the leeway", signed(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() }), true},
		{"expired", signed(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() }), false},
		{"wrong audience", signed(func(c jwt.MapClaims) { c["aud"] = "another-client" }), false},
		{"wrong issuer", signed(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), false},
		{"wrong nonce", signed(func(c jwt.MapClaims) { c["nonce"] = "replayed" }), false},
		{"no nonce", signed(func(c jwt.MapClaims) { delete(c, "nonce") }), false},
		{"tampered payload", func(c jwt.MapClaims) string {
			c["preferred_username"] = "jane"
			tok := is.Sign(t, c, false)
			parts := strings.Split(tok, ".")
			evil := jwt.MapClaims{}
			for k, v := range c {
				evil[k] = v
			}
			evil["preferred_username"] = "admin"
			forged := is.Sign(t, evil, false)
			return parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
		}, false},
		{"unknown key id", func(c jwt.MapClaims) string { return is.Sign(t, c, true) }, false},
		{"unsigned (alg none)", func(c jwt.MapClaims) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is.Mint = tc.mint
			id, err := login(t, p)
			if tc.ok {
				if err != nil || id.Username != "jane" {
					t.Fatalf("login: %+v, %v", id, err)
				}
				return
			}
			if !errors.Is(err, oidc.ErrRejected) {
				t.Fatalf("login: %+v, %v; want ErrRejected", id, err)
			}
		})
	}
}

// A key the provider publishes after Berth first read its keys is
// fetched when a token names it.
func TestLoginFollowsKeyRotation(t *testing.T) {
	is := oidctest.Start(t)
	is.Claims = jwt.MapClaims{"preferred_username": "jane"}
	p := newProvider(t, is, nil)
	if _, err := login(t, p); err != nil {
		t.Fatal(err)
	}
	is.Rotate(t)
	is.DropOldKeys()
	if _, err := login(t, p); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

func TestProviderDown(t *testing.T) {
	is := oidctest.Start(t)
	p := newProvider(t, is, nil)
	is.Close()
	_, err := login(t, p)
	if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(err.Error(), is.URL) {
		t.Fatalf("provider down: %v; want ErrUnavailable naming the issuer", err)
	}
}

func TestLogoutURL(t *testing.T) {
	is := oidctest.Start(t)
	ctx := context.Background()
	if u := newProvider(t, is, nil).LogoutURL(ctx, "http://127.0.0.1:1/ui/"); u != "" {
		t.Fatalf("logout at the provider is off by default, got %s", u)
	}
	u := newProvider(t, is, func(c *config.OIDC) { c.Logout = true }).LogoutURL(ctx, "http://127.0.0.1:1/ui/")
	q := mustURL(t, u).Query()
	if !strings.HasPrefix(u, is.URL+"/logout?") || q.Get("client_id") != is.ClientID || q.Get("post_logout_redirect_uri") != "http://127.0.0.1:1/ui/" {
		t.Fatalf("logout URL %s", u)
	}
}
