package app_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

func TestUIProjectForms(t *testing.T) {
	b := setupBrowse(t)
	tests := []struct {
		name    string
		form    url.Values
		status  int
		wantErr string
	}{
		{"empty name", url.Values{"name": {""}}, 422, "Enter a name."},
		{"invalid name", url.Values{"name": {"Bad/Name"}}, 422, "A project name has lower-case letters"},
		{"taken", url.Values{"name": {"team"}}, 422, "A project of that name exists."},
		{"created", url.Values{"name": {"fresh"}, "public": {"on"}}, 303, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := b.admin.post("/ui/projects", tc.form)
			if p.status != tc.status || !strings.Contains(html.UnescapeString(p.body), tc.wantErr) {
				t.Fatalf("%d, want %d with %q\n%s", p.status, tc.status, tc.wantErr, p.body)
			}
			if tc.status == 422 && !strings.Contains(p.body, `value="`+html.EscapeString(tc.form.Get("name"))+`"`) {
				t.Errorf("the form does not show the value again")
			}
		})
	}
	// Nothing half-saved: the refused names do not exist.
	if res := api(t, b.s.URL, cred{"admin", adminPassword}, "GET", "/api/v1/projects", "", 200); strings.Contains(res, "Bad") {
		t.Fatalf("a refused project exists: %s", res)
	}
	// The flash of the created project shows once, then is gone.
	if p := b.admin.get("/ui/projects/fresh"); !strings.Contains(p.body, "The project was created.") || !strings.Contains(p.body, "public") {
		t.Fatalf("new project page:\n%s", p.body)
	}
	if p := b.admin.get("/ui/projects/fresh"); strings.Contains(p.body, "The project was created.") {
		t.Fatal("the flash shows twice")
	}
	if p := b.admin.post("/ui/projects/fresh/settings", url.Values{}); p.status != 303 {
		t.Fatalf("settings: %d", p.status)
	}
	if res := api(t, b.s.URL, cred{"admin", adminPassword}, "GET", "/api/v1/projects/fresh", "", 200); !strings.Contains(res, `"public":false`) {
		t.Fatalf("settings not saved: %s", res)
	}
	if p := b.admin.post("/ui/projects/team/delete", url.Values{}); p.status != 422 || !strings.Contains(p.body, "still has repositories") {
		t.Fatalf("deleting a project with repositories: %d\n%s", p.status, p.body)
	}
	if p := b.admin.post("/ui/projects/fresh/delete", url.Values{}); p.status != 303 {
		t.Fatalf("deleting an empty project: %d", p.status)
	}
	api(t, b.s.URL, cred{"admin", adminPassword}, "GET", "/api/v1/projects/fresh", "", 404)
}

func TestUIRepositoryForms(t *testing.T) {
	b := setupBrowse(t)
	art := "/ui/repositories/team/app@" + b.v100.String()
	tests := []struct {
		name     string
		path     string
		form     url.Values
		status   int
		want     string
		location string
	}{
		{"add an invalid tag", art, url.Values{"action": {"add_tag"}, "tag": {"-bad tag"}}, 422, "A tag has 1 to 128", ""},
		{"add a tag", art, url.Values{"action": {"add_tag"}, "tag": {"stable"}}, 303, "", art},
		{"delete a tag", "/ui/repositories/team/app", url.Values{"action": {"delete_tag"}, "tag": {"latest"}}, 303, "", "/ui/repositories/team/app"},
		{"delete a manifest unconfirmed", art, url.Values{"action": {"delete_manifest"}}, 422, "Tick the box", ""},
		{"unknown action", art, url.Values{"action": {"explode"}}, 400, "", ""},
		{"delete a manifest", art, url.Values{"action": {"delete_manifest"}, "confirm": {"yes"}}, 303, "", "/ui/repositories/team/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := b.admin.post(tc.path, tc.form)
			if p.status != tc.status || !strings.Contains(html.UnescapeString(p.body), tc.want) {
				t.Fatalf("%d, want %d with %q\n%s", p.status, tc.status, tc.want, p.body)
			}
			if tc.location != "" && p.header.Get("Location") != tc.location {
				t.Fatalf("Location %q, want %q", p.header.Get("Location"), tc.location)
			}
		})
	}
	a := cred{"admin", adminPassword}
	for ref, want := range map[string]int{"stable": 404, "latest": 404, "v1.0.0": 404, "v1.2.0": 200} {
		if res := send(t, "HEAD", b.s.URL+"/v2/team/app/manifests/"+ref, a.basic(), nil, nil); res.status != want {
			t.Errorf("%s after the forms: %d, want %d", ref, res.status, want)
		}
	}
}

func TestUIDeleteDisabled(t *testing.T) {
	s := startUI(t, func(c *config.Config) { c.Registry.DeleteEnabled = false })
	a := cred{"admin", adminPassword}
	api(t, s.URL, a, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	registryFixture{t: t, url: s.URL, c: a}.image("team/app", "v1", "amd64", nil, nil)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	p := b.post("/ui/repositories/team/app", url.Values{"action": {"delete_tag"}, "tag": {"v1"}})
	if p.status != 422 || !strings.Contains(p.body, "registry.delete_enabled") {
		t.Fatalf("delete with deletes off: %d\n%s", p.status, p.body)
	}
}

// TestUIEscaping pushes markup where users can put it (annotations,
// labels, a user name, the search box) and checks it is shown as text.
func TestUIEscaping(t *testing.T) {
	s := startUI(t, nil)
	a := cred{"admin", adminPassword}
	const evil = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
	api(t, s.URL, a, "POST", "/api/v1/projects", `{"name":"team","public":true}`, 201)
	api(t, s.URL, a, "POST", "/api/v1/users", `{"name":"<b>mallory</b>","password":"mallory-password"}`, 201)
	f := registryFixture{t: t, url: s.URL, c: a}
	d := f.image("team/app", "v1", "amd64", map[string]string{evil: evil}, map[string]string{"org.example.note": evil, evil: "x"})
	b := newBrowser(t, s.URL)
	b.login("<b>mallory</b>", "mallory-password")
	for _, path := range []string{
		"/ui/repositories/team/app@" + d.String(),
		"/ui/search?q=" + url.QueryEscape(evil),
		"/ui/projects",
		"/ui/no/" + url.PathEscape(evil),
	} {
		p := b.get(path)
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>mallory</b>"} {
			if strings.Contains(p.body, bad) {
				t.Errorf("%s: %q appears unescaped", path, bad)
			}
		}
		if p.status == http.StatusOK && !strings.Contains(p.body, "&lt;b&gt;mallory&lt;/b&gt;") {
			t.Errorf("%s: the user name is not shown as text", path)
		}
	}
	if p := b.get("/ui/repositories/team/app@" + d.String()); !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the annotation is not shown as text")
	}
}

func TestBrowseAPI(t *testing.T) {
	b := setupBrowse(t)
	a := cred{"admin", adminPassword}
	u := b.s.URL
	tests := []struct {
		name, path string
		c          cred
		status     int
		want       []string
	}{
		{"search", "/api/v1/search?q=app", a, 200, []string{`"repositories":["team/app"]`}},
		{"search jump", "/api/v1/search?q=team/app:v1.0.0", a, 200, []string{`"jump":{"repository":"team/app","tag":"v1.0.0","digest":"` + b.v100.String()}},
		{"search empty", "/api/v1/search?q=", a, 400, nil},
		{"search anonymous sees no private project", "/api/v1/search?q=app", cred{}, 200, []string{`"repositories":[]`}},
		{"statistics", "/api/v1/statistics", a, 200, []string{`"projects":1`, `"repositories":2`, `"storage_bytes":`}},
		{"statistics anonymous", "/api/v1/statistics", cred{}, 401, nil},
		{"recent", "/api/v1/recent?limit=1", a, 200, []string{`"repository":"team/db"`}},
		{"repositories", "/api/v1/projects/team/repositories?sort=pushed&limit=1", a, 200, []string{`"total":2`, `"name":"team/db"`}},
		{"repositories bad limit", "/api/v1/projects/team/repositories?limit=100000", a, 400, nil},
		{"repositories anonymous", "/api/v1/projects/team/repositories", cred{}, 401, nil},
		{"tags by version", "/api/v1/projects/team/repositories/app?sort=semver&limit=2", a, 200, []string{`"total":5`, `"name":"v1.10.0"`, `"name":"v1.2.0"`}},
		{"tags bad sort", "/api/v1/projects/team/repositories/app?sort=size", a, 400, nil},
		{"untagged", "/api/v1/projects/team/repositories/app?kind=untagged", a, 200, []string{b.untagged.String()}},
		{"artifact", "/api/v1/projects/team/repositories/app@" + b.v100.String(), a, 200, []string{`"tags":["v1.0.0"]`, `"platform":"linux/amd64"`, `"referrers":[{"digest":"` + b.sig.String()}},
		{"artifact by tag", "/api/v1/projects/team/repositories/app@v1.0.0", a, 200, []string{`"digest":"` + b.v100.String()}},
		{"unknown repository", "/api/v1/projects/team/repositories/nope", a, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			authz := ""
			if tc.c.user != "" {
				authz = tc.c.basic()
			}
			res := send(t, "GET", u+tc.path, authz, nil, nil)
			if res.status != tc.status {
				t.Fatalf("%d, want %d: %s", res.status, tc.status, res.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.body, w) {
					t.Errorf("body lacks %s:\n%s", w, res.body)
				}
			}
		})
	}
}

// TestUIAudited: the UI's changes and log-ins are in the audit log, with
// the user and the repository.
func TestUIAudited(t *testing.T) {
	b := setupBrowse(t)
	if p := b.admin.post("/ui/repositories/team/app", url.Values{"action": {"delete_tag"}, "tag": {"latest"}}); p.status != 303 {
		t.Fatalf("delete tag: %d", p.status)
	}
	newBrowser(t, b.s.URL).post("/ui/login", url.Values{"username": {"admin"}, "password": {"wrong"}})
	base := "http://admin:" + adminPassword + "@" + mustURL(t, b.s.URL).Host + "/api/v1/audit?action="
	del := auditEvents(t, base+"ui_delete_tag", 1)
	if len(del) != 1 || del[0].User != "admin" || del[0].Repository != "team/app" || del[0].Reference != "latest" || del[0].Status != "success" {
		t.Fatalf("ui_delete_tag events: %+v", del)
	}
	logins := auditEvents(t, base+"ui_login", 2)
	if len(logins) != 2 || logins[0].Status != "failure" || logins[1].Status != "success" || logins[0].User != "admin" {
		t.Fatalf("ui_login events: %+v", logins)
	}
}
