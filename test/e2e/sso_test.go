package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/berth-registry/berth/internal/enginetest"
)

// A single sign-on user (mockoidc, a real OpenID Connect provider on
// loopback, with a groups claim) signs in to the web UI, makes a personal
// access token there, and logs in with it from crane, skopeo and the
// Docker daemon: the
// token's access comes from the group's role in the project, and ends
// when the user leaves the group at the provider.
func TestSSOUserTokenWithClients(t *testing.T) {
	if target != "berth" {
		t.Skip("single sign-on is Berth's")
	}
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	mc := m.Config()
	reg, _, _ := startAuthRegistryEnv(t, []string{"BERTH_AUTH_MODE=builtin,oidc",
		"BERTH_AUTH_OIDC_ISSUER=" + mc.Issuer, "BERTH_AUTH_OIDC_CLIENT_ID=" + mc.ClientID,
		"BERTH_AUTH_OIDC_CLIENT_SECRET=" + mc.ClientSecret, "BERTH_AUTH_OIDC_SCOPES=[openid, profile, groups]",
		"BERTH_AUTH_OIDC_GROUPS_CLAIM=groups", "BERTH_AUTH_ACCESS_TOKENS_MAX_TTL=720h"})
	reg.admin(t, "PUT", "/api/v1/projects/team/members/group/devs", `{"role":"developer"}`, 200)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Groups: []string{"devs"}})
	res, err := browser.Get("http://" + reg.Direct + "/ui/oidc/login?next=/ui/user") // to the provider and back
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/ui/user" {
		t.Fatalf("single sign-on ended at %s with %d", res.Request.URL, res.StatusCode)
	}
	req, _ := http.NewRequest("POST", "http://"+reg.Direct+"/ui/user/tokens",
		strings.NewReader(url.Values{"name": {"cli"}, "expires_days": {"7"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	token := regexp.MustCompile(`bpat_[0-9a-f]{16}_[0-9a-f]{64}`).FindString(string(page))
	if token == "" {
		t.Fatalf("no token on the page (%d):\n%s", res.StatusCode, page)
	}

	c := newClients(t, reg)
	c.crane("auth", "login", reg.Host, "-u", "jane", "-p", token)
	pushCraneImage(t, c, c.ref("team/sso", "v1"), 16<<10)
	c.skopeo("login", "--tls-verify=false", "-u", "jane", "-p", token, reg.Host)
	c.skopeo("copy", "--src-tls-verify=false", "docker://"+c.ref("team/sso", "v1"), "oci:"+filepath.Join(c.dir, "out")+":v1")
	verifyLayoutBlobs(t, filepath.Join(c.dir, "out"))

	// The Docker daemon logs in with the token and pushes.
	d := enginetest.StartDocker(t, enginetest.DockerOptions{InsecureRegistries: []string{reg.Host}})
	d.RunIn(t, strings.NewReader(token), "login", "-u", "jane", "--password-stdin", reg.Host)
	d.Run(t, "import", writeDockerImportTar(t, t.TempDir()), reg.Host+"/team/sso-docker:v1")
	d.Push(t, reg.Host+"/team/sso-docker:v1")

	// jane leaves devs at the provider; her next login stores it.
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Groups: []string{"sales"}})
	res, err = (&http.Client{Jar: jar}).Get("http://" + reg.Direct + "/ui/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	r := c.exec(runOpts{}, "skopeo", "inspect", "--tls-verify=false", "docker://"+c.ref("team/sso", "v1"))
	if r.Err == nil {
		t.Fatal("skopeo still pulls with the token after jane left the group")
	}
	r = c.exec(runOpts{}, "crane", "append", "--oci-empty-base", "-t", c.ref("team/sso", "v2"), "-f", writeRandomTarFile(t, c.dir, 1024), "--insecure")
	if r.Err == nil {
		t.Fatal("crane still pushes with the token after jane left the group")
	}
}
