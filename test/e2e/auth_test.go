package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

const (
	e2eAdminPassword = "e2e-admin-password"
	e2eDevPassword   = "e2e-dev-password"
)

// startAuthRegistry starts Berth with builtin users and token auth, an
// admin, a user dev who is a developer of project team, and a robot of
// team with pull and push. It returns the robot's name and secret.
func startAuthRegistry(t *testing.T) (*registry, string, string) {
	t.Helper()
	return startAuthRegistryEnv(t, nil)
}

// startAuthRegistryEnv is startAuthRegistry with more BERTH_* settings.
func startAuthRegistryEnv(t *testing.T, extraEnv []string) (*registry, string, string) {
	t.Helper()
	if target != "berth" {
		t.Skip("access control is Berth's")
	}
	reg := startRegistryEnv(t, append([]string{"BERTH_AUTH_MODE=builtin", "BERTH_AUTH_ADMIN_PASSWORD=" + e2eAdminPassword,
		"BERTH_AUTH_BCRYPT_COST=4"}, extraEnv...))
	reg.admin(t, "POST", "/api/v1/users", `{"name":"dev","password":"`+e2eDevPassword+`"}`, 201)
	reg.admin(t, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	reg.admin(t, "PUT", "/api/v1/projects/team/members/user/dev", `{"role":"developer"}`, 200)
	var robot struct{ Name, Secret string }
	json.Unmarshal(reg.admin(t, "POST", "/api/v1/projects/team/robots", `{"name":"ci","actions":["pull","push"]}`, 201), &robot)
	return reg, robot.Name, robot.Secret
}

// admin sends a request as the administrator (HTTP Basic) straight to the
// server and returns the body; the test fails unless the status is want.
func (r *registry) admin(t testing.TB, method, path, body string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+r.Direct+path, strings.NewReader(body))
	req.SetBasicAuth("admin", e2eAdminPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, buf.String())
	}
	return buf.Bytes()
}

// failsLogin checks that a client's login with a wrong password fails with
// its usual message.
func failsLogin(t *testing.T, r cmdResult, wants ...string) {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("login with a wrong password succeeded:\n%s%s", r.Stdout, r.Stderr)
	}
	out := strings.ToLower(r.Stdout + r.Stderr)
	for _, w := range wants {
		if strings.Contains(out, w) {
			return
		}
	}
	t.Fatalf("login with a wrong password: %v, output lacks any of %q:\n%s", r.Err, wants, r.Stdout+r.Stderr)
}

// Every client logs in through token authentication (401 with a Bearer
// challenge, the token endpoint, a JWT), pushes and pulls as a project
// developer or robot; a wrong password fails with the client's own error;
// an anonymous pull of the private project is refused.
func TestClientsLoginTokenAuth(t *testing.T) {
	reg, robot, secret := startAuthRegistry(t)

	t.Run("skopeo", func(t *testing.T) {
		defer usedTokens(t, reg, len(reg.Requests()))
		c := newClients(t, reg)
		failsLogin(t, c.exec(runOpts{}, "skopeo", "login", "--tls-verify=false", "-u", "dev", "-p", "wrong-password", reg.Host),
			"invalid username/password", "unauthorized")
		c.skopeo("login", "--tls-verify=false", "-u", "dev", "-p", e2eDevPassword, reg.Host)
		layout := filepath.Join(c.dir, "layout")
		writeImage(t, layout, "v1", platform{OS: "linux", Architecture: "amd64"}, randomTar(t, 64<<10))
		c.skopeo("copy", "--dest-tls-verify=false", "oci:"+layout+":v1", "docker://"+c.ref("team/skopeo", "v1"))
		c.skopeo("copy", "--src-tls-verify=false", "docker://"+c.ref("team/skopeo", "v1"), "oci:"+filepath.Join(c.dir, "out")+":v1")
		verifyLayoutBlobs(t, filepath.Join(c.dir, "out"))
		c.skopeo("logout", reg.Host)
		r := c.exec(runOpts{}, "skopeo", "inspect", "--tls-verify=false", "docker://"+c.ref("team/skopeo", "v1"))
		if r.Err == nil {
			t.Fatal("anonymous inspect of a private project succeeded")
		}
	})

	t.Run("crane", func(t *testing.T) {
		defer usedTokens(t, reg, len(reg.Requests()))
		c := newClients(t, reg)
		// crane auth login only stores the credentials; the push fails.
		c.crane("auth", "login", reg.Host, "-u", "dev", "-p", "wrong-password")
		r := c.exec(runOpts{}, "crane", "append", "--oci-empty-base", "-t", c.ref("team/crane", "v1"),
			"-f", writeRandomTarFile(t, c.dir, 1024), "--insecure")
		failsLogin(t, r, "unauthorized")
		c.crane("auth", "login", reg.Host, "-u", "dev", "-p", e2eDevPassword)
		digest := pushCraneImage(t, c, c.ref("team/crane", "v1"), 32<<10)
		if got := strings.TrimSpace(c.crane("digest", c.ref("team/crane", "v1"))); got != digest {
			t.Fatalf("crane digest %s, pushed %s", got, digest)
		}
		c.crane("pull", "--format", "oci", c.ref("team/crane", "v1"), filepath.Join(c.dir, "pulled"))
		verifyLayoutBlobs(t, filepath.Join(c.dir, "pulled"))
	})

	t.Run("oras", func(t *testing.T) {
		defer usedTokens(t, reg, len(reg.Requests()))
		c := newClients(t, reg)
		failsLogin(t, c.exec(runOpts{}, "oras", "login", "-u", "dev", "-p", "wrong-password", reg.Host, "--plain-http"),
			"unauthorized", "401")
		c.oras("login", "-u", robot, "-p", secret, reg.Host)
		writeFile(t, filepath.Join(c.dir, "hello.txt"), []byte("hello from oras\n"))
		c.oras("push", c.ref("team/oras", "v1"), "hello.txt:text/plain")
		out := filepath.Join(c.dir, "out")
		c.oras("pull", "-o", out, c.ref("team/oras", "v1"))
		if b, err := os.ReadFile(filepath.Join(out, "hello.txt")); err != nil || string(b) != "hello from oras\n" {
			t.Fatalf("pulled %q, %v", b, err)
		}
	})

	t.Run("regctl", func(t *testing.T) {
		defer usedTokens(t, reg, len(reg.Requests()))
		c := newClients(t, reg)
		c.regctlSetup()
		failsLogin(t, c.exec(runOpts{}, "regctl", "registry", "login", reg.Host, "-u", "dev", "-p", "wrong-password"),
			"unauthorized", "401", "failed")
		c.regctl("registry", "login", reg.Host, "-u", "dev", "-p", e2eDevPassword)
		layout := filepath.Join(c.dir, "layout")
		writeImage(t, layout, "v1", platform{OS: "linux", Architecture: "arm64"}, randomTar(t, 48<<10))
		c.regctl("image", "copy", "ocidir://"+layout+":v1", c.ref("team/regctl", "v1"))
		c.regctl("image", "copy", c.ref("team/regctl", "v1"), "ocidir://"+filepath.Join(c.dir, "out")+":v1")
		verifyLayoutBlobs(t, filepath.Join(c.dir, "out"))
		// dev may not push to a project it is not a member of.
		r := c.exec(runOpts{}, "regctl", "image", "copy", c.ref("team/regctl", "v1"), c.ref("other/regctl", "v1"))
		if r.Err == nil {
			t.Fatal("push to another project succeeded")
		}
	})

	t.Run("podman", func(t *testing.T) {
		defer usedTokens(t, reg, len(reg.Requests()))
		testproc.Need(t, "podman")
		c := newClients(t, reg)
		store := newContainerStore(c, "auth")
		failsLogin(t, c.exec(runOpts{}, "podman", append(cloneArgs(store.args), "login", "--tls-verify=false", "-u", "dev", "-p", "wrong-password", reg.Host)...),
			"invalid username/password", "unauthorized")
		store.podman("login", "--tls-verify=false", "-u", "dev", "-p", e2eDevPassword, reg.Host)
		// An image to start from, pushed with crane as the robot.
		c.crane("auth", "login", reg.Host, "-u", robot, "-p", secret)
		pushCraneImage(t, c, c.ref("team/base", "v1"), 16<<10)
		store.podman("pull", "--signature-policy", c.policyFile(), "--tls-verify=false", c.ref("team/base", "v1"))
		store.podman("tag", c.ref("team/base", "v1"), c.ref("team/podman", "v1"))
		store.podman("push", "--signature-policy", c.policyFile(), "--tls-verify=false", c.ref("team/podman", "v1"))
		fresh := newContainerStore(c, "auth-fresh")
		fresh.podman("pull", "--signature-policy", c.policyFile(), "--tls-verify=false", c.ref("team/podman", "v1"))
	})

	t.Run("helm", func(t *testing.T) {
		defer usedTokens(t, reg, len(reg.Requests()))
		testproc.Need(t, "helm")
		c := newClients(t, reg)
		failsLogin(t, c.exec(runOpts{}, "helm", "registry", "login", reg.Host, "--plain-http", "-u", "dev", "-p", "wrong-password"),
			"unauthorized", "401")
		c.runWith(runOpts{stdin: strings.NewReader(secret)}, "helm", "registry", "login", reg.Host, "--plain-http", "-u", robot, "--password-stdin")
		c.helm("create", filepath.Join(c.dir, "chart"))
		c.helm("package", filepath.Join(c.dir, "chart"), "--destination", c.dir)
		c.helm("push", filepath.Join(c.dir, "chart-0.1.0.tgz"), "oci://"+reg.Host+"/team")
		os.Mkdir(filepath.Join(c.dir, "out"), 0o755)
		c.helm("pull", "oci://"+reg.Host+"/team/chart", "--version", "0.1.0", "--destination", filepath.Join(c.dir, "out"))
		if sha256Digest(readFile(t, filepath.Join(c.dir, "out", "chart-0.1.0.tgz"))) != sha256Digest(readFile(t, filepath.Join(c.dir, "chart-0.1.0.tgz"))) {
			t.Fatal("helm pull: the chart differs from the one pushed")
		}
	})

	t.Run("cosign", func(t *testing.T) {
		defer usedTokens(t, reg, len(reg.Requests()))
		testproc.Need(t, "cosign")
		c := newClients(t, reg)
		c.env = append(c.env, "COSIGN_PASSWORD=e2e-cosign-password")
		c.crane("auth", "login", reg.Host, "-u", "dev", "-p", e2eDevPassword)
		img := pushCraneImage(t, c, c.ref("team/cosign", "v1"), 8<<10)
		// cosign's own login, with the robot; it keeps Docker's config.
		c.run("cosign", "login", reg.Host, "-u", robot, "-p", secret)
		c.cosign("generate-key-pair")
		c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", c.ref("team/cosign", img))
		verified(t, c.cosign("verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", c.ref("team/cosign", img)), img)
	})
}

func cloneArgs(s []string) []string { return append([]string(nil), s...) }

// usedTokens checks that the requests since the first from'th went
// through the token endpoint successfully (and logs how the client asked).
func usedTokens(t *testing.T, reg *registry, from int) {
	t.Helper()
	recs := reg.Requests()
	if len(recs) == 0 {
		return // E2E_PROXY=0: nothing recorded
	}
	var got []string
	for _, r := range recs[from:] {
		if strings.HasPrefix(r.URI, "/token") && r.Status == http.StatusOK {
			got = append(got, r.Method)
		}
	}
	if len(got) == 0 {
		t.Fatalf("no successful token request; requests:\n%s", formatRecords(recs[from:]))
	}
	t.Logf("token requests: %v", got)
}
