package app_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
)

// matrix is the state the access-control matrix runs against: projects
// team-a (private), team-b (private) and pub (public), each with a
// repository, users in every role and two robots.
type matrix struct {
	url   string
	admin cred
	creds map[string]cred
	// team-a/app content
	config, layer digest.Digest
	v1            digest.Digest
	// a blob only team-b/lib has, for mounts
	bOnly digest.Digest
	seq   int
	sizes map[digest.Digest]int // of the blobs pushed, for manifests
}

var matrixRoles = []string{"anonymous", "guest", "developer", "maintainer", "project-admin", "other-admin", "system-admin", "robot-pull", "robot-expired"}

func setupMatrix(t *testing.T) *matrix {
	s := startAuth(t, func(c *config.Config) {
		c.Auth.FailedLogins.PerUser = 0
		c.Audit.Pulls = "full" // checkMatrixAudit looks for each pull
	})
	m := &matrix{url: s.URL, admin: cred{"admin", adminPassword}, creds: map[string]cred{"system-admin": {"admin", adminPassword}}}
	a := func(method, path, body string, want int) string {
		return api(t, s.URL, m.admin, method, path, body, want)
	}
	robot := func(project, body string) cred {
		var r struct{ Name, Secret string }
		json.Unmarshal([]byte(a("POST", "/api/v1/projects/"+project+"/robots", body, 201)), &r)
		return cred{r.Name, r.Secret}
	}
	expiring := time.Now()
	for _, p := range []string{`{"name":"team-a"}`, `{"name":"team-b"}`, `{"name":"pub","public":true}`} {
		a("POST", "/api/v1/projects", p, 201)
	}
	m.creds["robot-expired"] = robot("team-a", `{"name":"expired","actions":["pull","push"],"expires_in":"2s"}`)
	m.creds["robot-pull"] = robot("team-a", `{"name":"puller","actions":["pull"]}`)
	for role, member := range map[string]string{"guest": "guest", "developer": "developer", "maintainer": "maintainer", "project-admin": "admin"} {
		a("POST", "/api/v1/users", fmt.Sprintf(`{"name":%q,"password":"%s-password"}`, role, role), 201)
		a("PUT", "/api/v1/projects/team-a/members/user/"+role, fmt.Sprintf(`{"role":%q}`, member), 200)
		m.creds[role] = cred{role, role + "-password"}
	}
	a("POST", "/api/v1/users", `{"name":"other-admin","password":"other-admin-password"}`, 201)
	a("PUT", "/api/v1/projects/team-b/members/user/other-admin", `{"role":"admin"}`, 200)
	m.creds["other-admin"] = cred{"other-admin", "other-admin-password"}

	m.config = m.pushBlob(t, "team-a/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "team-a/app", []byte("layer of team-a"))
	m.v1 = m.pushManifest(t, "team-a/app", "v1")
	m.bOnly = m.pushBlob(t, "team-b/lib", []byte("only in team-b"))
	m.pushBlob(t, "pub/base", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.pushBlob(t, "pub/base", []byte("layer of team-a"))
	m.pushManifest(t, "pub/base", "v1")
	if d := time.Until(expiring.Add(2100 * time.Millisecond)); d > 0 {
		time.Sleep(d) // robot-expired has expired
	}
	return m
}

func (m *matrix) pushBlob(t *testing.T, repo string, b []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(b)
	if res := send(t, "POST", m.url+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), m.admin.basic(), b, nil); res.status != 201 {
		t.Fatalf("push blob to %s: %d %s", repo, res.status, res.body)
	}
	if m.sizes == nil {
		m.sizes = map[digest.Digest]int{}
	}
	m.sizes[d] = len(b)
	return d
}

// manifest returns a new image manifest of m.config and m.layer (the
// team-a/app blobs unless a test chose others).
func (m *matrix) manifest() []byte {
	m.seq++
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}],`+
		`"annotations":{"seq":"%d"}}`, m.config, m.sizes[m.config], m.layer, m.sizes[m.layer], m.seq))
}

func (m *matrix) pushManifest(t *testing.T, repo, tag string) digest.Digest {
	t.Helper()
	b := m.manifest()
	res := send(t, "PUT", m.url+"/v2/"+repo+"/manifests/"+tag, m.admin.basic(), b,
		map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	if res.status != 201 {
		t.Fatalf("push manifest %s:%s: %d %s", repo, tag, res.status, res.body)
	}
	return digest.FromBytes(b)
}

// client makes requests as one role, with Basic credentials on every
// request, or as registry clients do with token auth.
type client struct {
	m     *matrix
	c     cred
	token bool
}

func (cl client) do(t *testing.T, method, path string, body []byte, hdr map[string]string, extraScopes ...string) result {
	t.Helper()
	if cl.token {
		return tokenDo(t, cl.c, method, cl.m.url+path, body, hdr, extraScopes...)
	}
	authz := ""
	if cl.c.user != "" {
		authz = cl.c.basic()
	}
	return send(t, method, cl.m.url+path, authz, body, hdr)
}

// api calls the management API with Basic credentials, or with a token
// from the token endpoint.
func (cl client) api(t *testing.T, method, path, body string) result {
	t.Helper()
	authz := ""
	switch {
	case cl.c.user == "":
	case cl.token:
		tok, res := fetchToken(t, cl.m.url+"/token", "berth", cl.c)
		if tok == "" {
			return res
		}
		authz = "Bearer " + tok
	default:
		authz = cl.c.basic()
	}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return send(t, method, cl.m.url+path, authz, b, map[string]string{"Content-Type": "application/json"})
}

// matrixOps are the operations, each with its expected outcome per role
// (in matrixRoles order): ok (2xx), deny (401/403), upload (a mount that
// became an upload session: 202). "a|b" is a in Basic mode, b with tokens.
var matrixOps = []struct {
	name   string
	expect []string
	run    func(t *testing.T, cl client, role string) result
}{
	{"pull", []string{"deny", "ok", "ok", "ok", "ok", "deny", "ok", "ok", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "GET", "/v2/team-a/app/manifests/v1", nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
		}},
	{"pull-blob", []string{"deny", "ok", "ok", "ok", "ok", "deny", "ok", "ok", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "GET", "/v2/team-a/app/blobs/"+cl.m.layer.String(), nil, nil)
		}},
	{"pull-public", []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "deny|ok"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "GET", "/v2/pub/base/manifests/v1", nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
		}},
	{"push", []string{"deny", "deny", "ok", "ok", "ok", "deny", "ok", "deny", "deny"},
		func(t *testing.T, cl client, role string) result {
			return cl.do(t, "PUT", "/v2/team-a/app/manifests/pushed-"+role, cl.m.manifest(),
				map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
		}},
	{"push-blob", []string{"deny", "deny", "ok", "ok", "ok", "deny", "ok", "deny", "deny"},
		func(t *testing.T, cl client, role string) result {
			b := []byte("blob of " + role)
			return cl.do(t, "POST", "/v2/team-a/app/blobs/uploads/?digest="+digest.FromBytes(b).String(), b, nil)
		}},
	{"mount-across-projects", []string{"deny", "deny", "upload", "upload", "upload", "deny", "ok", "deny", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "POST", "/v2/team-a/app/blobs/uploads/?mount="+cl.m.bOnly.String()+"&from=team-b/lib", nil, nil,
				"repository:team-b/lib:pull")
		}},
	{"delete-manifest", []string{"deny", "deny", "deny", "ok", "ok", "deny", "ok", "deny", "deny"},
		func(t *testing.T, cl client, role string) result {
			d := cl.m.pushManifest(t, "team-a/app", "del-"+role)
			return cl.do(t, "DELETE", "/v2/team-a/app/manifests/"+d.String(), nil, nil)
		}},
	{"delete-tag", []string{"deny", "deny", "deny", "ok", "ok", "deny", "ok", "deny", "deny"},
		func(t *testing.T, cl client, role string) result {
			cl.m.pushManifest(t, "team-a/app", "tag-"+role)
			return cl.do(t, "DELETE", "/v2/team-a/app/manifests/tag-"+role, nil, nil)
		}},
	// A reference that is neither a tag nor a digest: the access check
	// comes first, exactly as for a valid one, then 404 MANIFEST_UNKNOWN.
	{"pull-invalid-reference", []string{"deny", "status 404", "status 404", "status 404", "status 404", "deny", "status 404", "status 404", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "GET", "/v2/team-a/app/manifests/.INVALID_MANIFEST_NAME", nil, nil)
		}},
	{"delete-invalid-reference", []string{"deny", "deny", "deny", "status 404", "status 404", "deny", "status 404", "deny", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "DELETE", "/v2/team-a/app/manifests/.INVALID_MANIFEST_NAME", nil, nil)
		}},
	{"list-tags", []string{"deny", "ok", "ok", "ok", "ok", "deny", "ok", "ok", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "GET", "/v2/team-a/app/tags/list", nil, nil)
		}},
	{"referrers", []string{"deny", "ok", "ok", "ok", "ok", "deny", "ok", "ok", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.do(t, "GET", "/v2/team-a/app/referrers/"+cl.m.v1.String(), nil, nil)
		}},
	{"catalog", []string{"deny", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "deny"},
		func(t *testing.T, cl client, _ string) result { return cl.do(t, "GET", "/v2/_catalog", nil, nil) }},
	{"api-project-read", []string{"deny", "ok", "ok", "ok", "ok", "deny", "ok", "ok", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.api(t, "GET", "/api/v1/projects/team-a/members", "")
		}},
	{"api-project-admin", []string{"deny", "deny", "deny", "deny", "ok", "deny", "ok", "deny", "deny"},
		func(t *testing.T, cl client, _ string) result {
			return cl.api(t, "PUT", "/api/v1/projects/team-a/members/user/guest", `{"role":"guest"}`)
		}},
	{"api-system-admin", []string{"deny", "deny", "deny", "deny", "deny", "deny", "ok", "deny", "deny"},
		func(t *testing.T, cl client, _ string) result { return cl.api(t, "GET", "/api/v1/users", "") }},
}

// catalogSees is what each role finds in the catalog.
var catalogSees = map[string][]string{
	"guest": {"pub/base", "team-a/app"}, "developer": {"pub/base", "team-a/app"}, "maintainer": {"pub/base", "team-a/app"},
	"project-admin": {"pub/base", "team-a/app"}, "other-admin": {"pub/base", "team-b/lib"},
	"system-admin": {"pub/base", "team-a/app", "team-b/lib"}, "robot-pull": {"pub/base", "team-a/app"},
}

// TestAuthMatrix: every role against every operation, with Basic
// credentials on each request and through token authentication.
func TestAuthMatrix(t *testing.T) {
	m := setupMatrix(t)
	for _, mode := range []string{"basic", "token"} {
		t.Run(mode, func(t *testing.T) {
			for _, op := range matrixOps {
				for i, role := range matrixRoles {
					want := op.expect[i]
					if b, tk, ok := strings.Cut(want, "|"); ok {
						want = b
						if mode == "token" {
							want = tk
						}
					}
					t.Run(op.name+"/"+role, func(t *testing.T) {
						cl := client{m: m, c: m.creds[role], token: mode == "token"}
						res := op.run(t, cl, role)
						got := outcome(res.status, op.name == "mount-across-projects")
						if got != want {
							t.Fatalf("%s as %s (%s): %d %s, want %s", op.name, role, mode, res.status, res.body, want)
						}
						if got == "status 404" && !strings.Contains(res.body, "MANIFEST_UNKNOWN") {
							t.Fatalf("%s as %s (%s): 404 without MANIFEST_UNKNOWN: %s", op.name, role, mode, res.body)
						}
						if op.name == "catalog" && got == "ok" {
							var c struct{ Repositories []string }
							json.Unmarshal([]byte(res.body), &c)
							if !slices.Equal(c.Repositories, catalogSees[role]) {
								t.Fatalf("catalog as %s: %v, want %v", role, c.Repositories, catalogSees[role])
							}
						}
					})
				}
			}
		})
	}
	t.Run("audit", func(t *testing.T) { checkMatrixAudit(t, m) })
}

// checkMatrixAudit: the matrix's pulls, pushes and deletes are in the
// audit log with the caller and the outcome, and no password, robot secret
// or token is anywhere in it.
func checkMatrixAudit(t *testing.T, m *matrix) {
	type event struct {
		ID                                          int64
		Action, User, Repository, Reference, Status string
	}
	var events []event
	var raw strings.Builder
	deadline := time.Now().Add(5 * time.Second)
	for before := ""; ; {
		body := api(t, m.url, m.admin, "GET", "/api/v1/audit?n=1000"+before, "", 200)
		raw.WriteString(body)
		var page struct{ Events []event }
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		events = append(events, page.Events...)
		if len(page.Events) < 1000 {
			// The log is written asynchronously: the matrix's last
			// request must be in before the check.
			if len(events) > 0 && !slices.ContainsFunc(events, func(e event) bool { return e.Reference == "tag-robot-expired" }) && time.Now().Before(deadline) {
				events, before = nil, ""
				raw.Reset()
				time.Sleep(50 * time.Millisecond)
				continue
			}
			break
		}
		before = fmt.Sprintf("&before=%d", page.Events[len(page.Events)-1].ID)
	}
	find := func(action, user, ref, status string) bool {
		return slices.ContainsFunc(events, func(e event) bool {
			return e.Action == action && e.User == user && e.Repository == "team-a/app" && e.Status == status &&
				(ref == "" || e.Reference == ref)
		})
	}
	audited := map[string]struct{ action, ref string }{
		"pull": {"pull", "v1"}, "push": {"push", "pushed-%s"}, "delete-manifest": {"delete", ""}, "delete-tag": {"delete", "tag-%s"},
	}
	for _, op := range matrixOps {
		a, ok := audited[op.name]
		if !ok {
			continue
		}
		for i, role := range matrixRoles {
			if role == "anonymous" || role == "robot-expired" {
				continue // no authenticated caller to name
			}
			status := "success"
			if op.expect[i] == "deny" {
				status = "failure"
			}
			ref := a.ref
			if strings.Contains(ref, "%s") {
				ref = fmt.Sprintf(ref, role)
			}
			if !find(a.action, m.creds[role].user, ref, status) {
				t.Errorf("no audit event %s by %s (%s) of team-a/app:%s with status %s", a.action, m.creds[role].user, role, ref, status)
			}
		}
	}
	all := raw.String()
	for role, c := range m.creds {
		if c.pass != "" && strings.Contains(all, c.pass) {
			t.Errorf("the audit log holds the secret of %s", role)
		}
	}
	for _, secret := range []string{"Basic ", "Bearer ", "eyJ"} {
		if strings.Contains(all, secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
}

func outcome(status int, mount bool) string {
	switch {
	case mount && status == 202:
		return "upload"
	case status >= 200 && status < 300:
		return "ok"
	case status == 401 || status == 403:
		return "deny"
	}
	return fmt.Sprintf("status %d", status)
}
