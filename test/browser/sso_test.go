package browser

import (
	"regexp"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// TestSSOLogin: "Sign in with ..." on the log-in page goes to the
// identity provider (mockoidc, on loopback, approving at once) and back
// with a session; the account page then offers access tokens for the
// command line, and makes one.
func TestSSOLogin(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	mc := m.Config()
	srv := startServerEnv(t, []string{"BERTH_AUTH_MODE=builtin,oidc", "BERTH_AUTH_OIDC_NAME=MockOIDC",
		"BERTH_AUTH_OIDC_ISSUER=" + mc.Issuer, "BERTH_AUTH_OIDC_CLIENT_ID=" + mc.ClientID,
		"BERTH_AUTH_OIDC_CLIENT_SECRET=" + mc.ClientSecret, "BERTH_AUTH_OIDC_SCOPES=[openid, profile, email, groups]",
		"BERTH_AUTH_OIDC_GROUPS_CLAIM=groups", "BERTH_AUTH_ACCESS_TOKENS_MAX_TTL=720h"})
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Email: "jane@example.com", Groups: []string{"devs"}})
	b := newTab(t, srv, "light")

	b.open("/ui/login")
	if got := b.text(`a[href^="/ui/oidc/login"]`); got != "Sign in with MockOIDC" {
		b.fatalf("SSO link %q", got)
	}
	b.shot("login-sso")
	b.click(`a[href^="/ui/oidc/login"]`)
	if got := b.text("header .user"); got != "jane" {
		b.fatalf("after single sign-on the header shows %q, want jane (at %s)", got, b.path())
	}
	b.open("/ui/user")
	if b.has(`form[action="/ui/user/password"]`) {
		t.Errorf("a single sign-on user is offered a password form")
	}
	b.fill("#token_name", "laptop")
	b.fill("#expires_days", "30")
	b.click(`form[action="/ui/user/tokens"] button[type=submit]`)
	if !regexp.MustCompile(`^bpat_[0-9a-f]{16}_[0-9a-f]{64}$`).MatchString(b.text(".flash.secret code")) {
		b.fatalf("no token shown")
	}
	b.shot("user-sso-token")
	b.noConsoleErrors()
}
