package scaleout

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/testproc"
)

const devPassword = "scaleout-dev-password"

// Access control through nginx, on a second cluster with builtin users and
// token authentication: every 401 names nginx's https URL as the realm
// (from X-Forwarded-Proto and -Host: nginx sends its upstream's name as
// Host), whichever instance answered; a token issued by one instance is
// accepted by the other (the signing key is in the shared database); and
// skopeo, crane and the Docker daemon log in, push and pull through
// nginx, their requests and token requests spread over both instances.
func testTokenAuth(t *testing.T) {
	c := startCluster(t, clusterOptions{auth: true})
	admin := func(method, path, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, c.url+path, strings.NewReader(body))
		req.SetBasicAuth("admin", adminPassword)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s, want %d", method, path, resp.Status, want)
		}
	}
	admin("POST", "/api/v1/users", `{"name":"dev","password":"`+devPassword+`"}`, http.StatusCreated)
	admin("POST", "/api/v1/projects", `{"name":"team"}`, http.StatusCreated)
	admin("PUT", "/api/v1/projects/team/members/user/dev", `{"role":"developer"}`, http.StatusOK)

	t.Run("realm", func(t *testing.T) { testRealm(t, c) })
	t.Run("token-from-the-other-instance", func(t *testing.T) { testTokenShared(t, c) })
	t.Run("ui-session-on-both", func(t *testing.T) { testUISession(t, c) })
	t.Run("skopeo", func(t *testing.T) {
		testproc.Need(t, "skopeo")
		testproc.Need(t, "crane") // makes the image to push
		tl := newTools(t, c)
		certs := c.certDir(t)
		tl.run(t, "skopeo", "login", "--cert-dir", certs, "-u", "dev", "-p", devPassword, c.host)
		archive := filepath.Join(tl.dir, "image.tar")
		tl.run(t, "crane", "append", "--oci-empty-base", "-t", "local/skopeo:v1",
			"-f", layerTar(t, tl.dir, 1<<20, 40), "-o", archive)
		ref := "docker://" + c.host + "/team/skopeo:v1"
		mark := c.logMark(t)
		tl.run(t, "skopeo", "--insecure-policy", "copy", "--dest-cert-dir", certs, "docker-archive:"+archive, ref)
		c.checkSplit(t, mark, "skopeo copy with a token")
		checkTokens(t, c, mark)
		layout := filepath.Join(tl.dir, "pulled")
		tl.run(t, "skopeo", "--insecure-policy", "copy", "--src-cert-dir", certs, ref, "oci:"+layout+":v1")
		if n := checkLayout(t, layout); n != 3 {
			t.Errorf("pulled %d blobs, want 3", n)
		}
	})
	t.Run("crane", func(t *testing.T) {
		testproc.Need(t, "crane")
		tl := newTools(t, c)
		tl.run(t, "crane", "auth", "login", c.host, "-u", "dev", "-p", devPassword)
		ref := c.host + "/team/crane:v1"
		mark := c.logMark(t)
		out := tl.run(t, "crane", "append", "--oci-empty-base", "-t", ref, "-f", layerTar(t, tl.dir, 1<<20, 41))
		c.checkSplit(t, mark, "crane append with a token")
		checkTokens(t, c, mark)
		_, dgst, _ := strings.Cut(strings.TrimSpace(out), "@")
		if got := strings.TrimSpace(tl.run(t, "crane", "digest", ref)); got != dgst || dgst == "" {
			t.Fatalf("crane digest %s, crane pushed %q", got, out)
		}
		layout := filepath.Join(tl.dir, "pulled")
		tl.run(t, "crane", "pull", "--format", "oci", ref, layout)
		if n := checkLayout(t, layout); n != 3 {
			t.Errorf("pulled %d blobs, want 3", n)
		}
	})
	t.Run("docker", func(t *testing.T) { testDockerLogin(t, c) })
	t.Run("network-rule", func(t *testing.T) { testNetworkRule(t, c) })
	t.Run("anonymous-pull-refused", func(t *testing.T) {
		resp, body := c.send(t, "GET", c.url+"/v2/team/crane/manifests/v1", nil)
		expect(t, "anonymous pull of a private project", resp, body, http.StatusUnauthorized)
	})
}

var realmParam = regexp.MustCompile(`realm="([^"]*)"`)

// testRealm: anonymous requests through nginx get Bearer challenges whose
// realm is nginx's https URL, from both instances.
func testRealm(t *testing.T, c *cluster) {
	want := "https://" + c.host + "/token"
	mark := c.logMark(t)
	for i := range 6 {
		path := []string{"/v2/", "/v2/team/app/manifests/v1", "/v2/team/app/blobs/uploads/"}[i%3]
		method := map[bool]string{true: "POST", false: "GET"}[strings.HasSuffix(path, "/uploads/")]
		resp, body := c.send(t, method, c.url+path, nil)
		expect(t, "anonymous "+method+" "+path, resp, body, http.StatusUnauthorized)
		h := resp.Header.Get("WWW-Authenticate")
		m := realmParam.FindStringSubmatch(h)
		if !strings.HasPrefix(h, "Bearer ") || m == nil || m[1] != want {
			t.Errorf("%s %s: WWW-Authenticate %q, want a Bearer challenge with realm %q", method, path, h, want)
		}
	}
	if n := countServed(c.accessLog(t, mark)); n["berth1"] == 0 || n["berth2"] == 0 {
		t.Errorf("the challenges came from one instance only: %v", n)
	}
}

// testTokenShared: a token from one instance's token endpoint is accepted
// by the other, both ways (straight to the instances).
func testTokenShared(t *testing.T, c *cluster) {
	for i, from := range c.inst {
		to := c.inst[1-i]
		req, _ := http.NewRequest("GET", from.url("/token?service=berth&scope=repository:team/shared:pull,push"), nil)
		req.SetBasicAuth("dev", devPassword)
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tok struct{ Token string }
		err = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || tok.Token == "" {
			t.Fatalf("token from %s: %s, %v", from.name, resp.Status, err)
		}
		// Push a blob to the other instance with it: authorized.
		resp, body := c.send(t, "POST", to.url(withDigest("/v2/team/shared/blobs/uploads/", digest.FromString("x"))),
			strings.NewReader("x"), "Authorization", "Bearer "+tok.Token)
		expect(t, "push to "+to.name+" with a token from "+from.name, resp, body, http.StatusCreated)
		resp, body = c.send(t, "GET", to.url("/v2/team/shared/blobs/"+digest.FromString("x").String()), nil)
		expect(t, "anonymous pull from "+to.name, resp, body, http.StatusUnauthorized)
	}
}

// checkTokens checks the requests since mark (one client's push): its
// token requests succeeded, none of its registry requests was refused once
// it had a token, and when one instance issued all its tokens the other
// still served some of its registry requests, accepting the token.
func checkTokens(t *testing.T, c *cluster, mark int64) {
	t.Helper()
	issued, verified := map[string]int{}, map[string]int{}
	refused := 0
	for _, a := range c.accessLog(t, mark) {
		switch {
		case strings.HasPrefix(a.uri, "/token"):
			if a.status != http.StatusOK {
				t.Errorf("token request %s answered %d", a.uri, a.status)
			}
			for _, in := range a.served {
				issued[in]++
			}
		case len(issued) == 0:
		case a.status == http.StatusUnauthorized:
			refused++
		case strings.HasPrefix(a.uri, "/v2/") && len(a.served) > 0:
			verified[a.served[len(a.served)-1]]++
		}
	}
	t.Logf("tokens issued by %v; registry requests with a token served by %v; %d refused", issued, verified, refused)
	switch {
	case len(issued) == 0:
		t.Error("no token request went through nginx")
	case refused > 0:
		t.Errorf("%d requests were refused after the client had a token", refused)
	case len(issued) == 1:
		for _, in := range c.inst {
			if issued[in.name] == 0 && verified[in.name] == 0 {
				t.Errorf("%s served none of the requests made with the other instance's token", in.name)
			}
		}
	}
}
