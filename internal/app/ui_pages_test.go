package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// browseSetup starts Berth with access control and content: project team
// with team/app (semver tags, an index, a signature, an untagged image).
type browseSetup struct {
	s                *apptest.Server
	admin            *browser
	v100, index, sig digest.Digest
	untagged         digest.Digest
}

func setupBrowse(t *testing.T) *browseSetup {
	t.Helper()
	s := startUI(t, nil)
	a := cred{"admin", adminPassword}
	api(t, s.URL, a, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	f := registryFixture{t: t, url: s.URL, c: a}
	b := &browseSetup{s: s}
	b.v100 = f.image("team/app", "v1.0.0", "amd64", map[string]string{"org.opencontainers.image.source": "https://example.com/app"}, map[string]string{"build": "42"})
	f.image("team/app", "v1.10.0", "amd64", nil, nil)
	f.image("team/app", "v1.2.0", "amd64", nil, nil)
	f.image("team/app", "latest", "amd64", nil, nil)
	b.index, _, _ = f.index("team/app", "multi")
	b.sig = f.referrer("team/app", b.v100, "application/vnd.dev.cosign.artifact.sig.v1+json")
	b.untagged = f.image("team/app", "", "s390x", nil, nil)
	f.image("team/db", "v1", "amd64", nil, nil)
	b.admin = newBrowser(t, s.URL)
	b.admin.login("admin", adminPassword)
	return b
}

// inOrder reports whether every one of wants is in the page's text
// (entities decoded), in that order.
func inOrder(body string, wants ...string) bool {
	body = html.UnescapeString(body)
	for _, w := range wants {
		i := strings.Index(body, w)
		if i < 0 {
			return false
		}
		body = body[i+len(w):]
	}
	return true
}

func TestUIBrowsePages(t *testing.T) {
	b := setupBrowse(t)
	host := mustURL(t, b.s.URL).Host
	tests := []struct {
		name   string
		path   string
		status int
		want   []string // in this order
	}{
		{"home", "/ui/", 200, []string{"Recently pushed", "team/db", "team/app"}},
		{"home stats for admins", "/", 200, []string{"projects", "repositories", "stored in"}},
		{"projects", "/ui/projects", 200, []string{`href="/ui/projects/team"`, "private"}},
		{"project by name", "/ui/projects/team", 200, []string{"team/app", "team/db"}},
		{"project by last push", "/ui/projects/team?sort=pushed", 200, []string{"team/db", "team/app"}},
		{"project filtered", "/ui/projects/team?q=DB", 200, []string{"team/db", "1–1 of 1"}},
		{"project bad sort", "/ui/projects/team?sort=size", 400, []string{"could not be understood"}},
		{"unknown project", "/ui/projects/nope", 404, []string{"There is nothing here"}},
		{"tags by name", "/ui/repositories/team/app", 200, []string{">latest<", ">multi<", ">v1.0.0<", ">v1.10.0<", ">v1.2.0<"}},
		{"tags by version", "/ui/repositories/team/app?sort=semver", 200, []string{">v1.10.0<", ">v1.2.0<", ">v1.0.0<", ">latest<"}},
		{"tags filtered", "/ui/repositories/team/app?q=v1.1", 200, []string{">v1.10.0<", "1–1 of 1"}},
		{"index platforms", "/ui/repositories/team/app?q=multi", 200, []string{"linux/amd64, linux/arm64/v8"}},
		{"referrers", "/ui/repositories/team/app?kind=referrers", 200, []string{"application/vnd.dev.cosign.artifact.sig.v1+json", shortDigestOf(b.v100)}},
		{"untagged", "/ui/repositories/team/app?kind=untagged", 200, []string{shortDigestOf(b.untagged)}},
		{"artifact", "/ui/repositories/team/app@" + b.v100.String(), 200, []string{
			"application/vnd.oci.image.manifest.v1+json", "v1.0.0", "linux/amd64",
			"docker pull " + host + "/team/app:v1.0.0", "docker pull " + host + "/team/app@" + b.v100.String(),
			"podman pull", "crane pull", "skopeo copy docker://" + host + "/team/app:v1.0.0", "oras pull",
			"Layers", "Build history", "ADD file:v1.0.0", "Annotations", "build", "42", "Labels", "org.opencontainers.image.source",
			"Referrers", "application/vnd.dev.cosign.artifact.sig.v1+json", "Manifest", `"schemaVersion": 2`}},
		{"index artifact", "/ui/repositories/team/app@" + b.index.String(), 200, []string{"Platforms", "linux/amd64", "linux/arm64/v8"}},
		{"artifact by tag redirects", "/ui/repositories/team/app@v1.0.0", 303, nil},
		{"unknown artifact", "/ui/repositories/team/app@" + digest.FromString("x").String(), 404, []string{"There is nothing here"}},
		{"unknown repository", "/ui/repositories/team/nope", 404, nil},
		{"invalid name", "/ui/repositories/Team/App", 404, nil},
		{"search lists", "/ui/search?q=app", 200, []string{"Repositories", "team/app"}},
		{"search by tag name", "/ui/search?q=v1.10", 200, []string{"team/app:v1.10.0"}},
		{"search by digest prefix", "/ui/search?q=" + b.v100.String()[:15], 200, []string{"team/app@" + b.v100.String()}},
		{"search finds nothing", "/ui/search?q=zzz", 200, []string{"Nothing matches"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := b.admin.get(tc.path)
			if p.status != tc.status {
				t.Fatalf("%s: %d, want %d\n%s", tc.path, p.status, tc.status, p.body)
			}
			if !inOrder(p.body, tc.want...) {
				t.Fatalf("%s: page lacks %q (in order):\n%s", tc.path, tc.want, p.body)
			}
		})
	}
	// Jumps: a digest, name:tag and name@digest go straight to the artifact.
	for _, q := range []string{b.v100.String(), "team/app:v1.0.0", "team/app@" + b.v100.String()} {
		p := b.admin.get("/ui/search?q=" + url.QueryEscape(q))
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/repositories/team/app@"+b.v100.String() {
			t.Errorf("search %q: %d %q", q, p.status, p.header.Get("Location"))
		}
	}
	// Raw downloads are the exact bytes.
	raw := b.admin.get("/ui/repositories/team/app@" + b.v100.String() + "?raw=manifest")
	if digest.FromString(raw.body) != b.v100 || !strings.Contains(raw.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("raw manifest: digest %s, headers %v", digest.FromString(raw.body), raw.header)
	}
	if cfg := b.admin.get("/ui/repositories/team/app@" + b.v100.String() + "?raw=config"); !strings.Contains(cfg.body, `"architecture":"amd64"`) {
		t.Errorf("raw config: %s", cfg.body)
	}
}

// TestUIPageWeight: the first load of a page (the page, its stylesheet
// and its script) is under 100 KiB.
func TestUIPageWeight(t *testing.T) {
	b := setupBrowse(t)
	for _, path := range []string{"/ui/", "/ui/projects/team", "/ui/repositories/team/app", "/ui/repositories/team/app@" + b.index.String()} {
		p := b.admin.get(path)
		total := len(p.body)
		for _, u := range regexp.MustCompile(`/ui/static/[a-z0-9.]+`).FindAllString(p.body, -1) {
			total += len(b.admin.get(u).body)
		}
		if total > 100<<10 || total < 1000 {
			t.Errorf("%s: first load is %d bytes", path, total)
		}
	}
}

func shortDigestOf(d digest.Digest) string { return d.Encoded()[:12] }

func TestUIPullStatistics(t *testing.T) {
	b := setupBrowse(t)
	a := cred{"admin", adminPassword}
	for range 3 {
		send(t, "GET", b.s.URL+"/v2/team/db/manifests/v1", a.basic(), nil, nil)
	}
	send(t, "HEAD", b.s.URL+"/v2/team/app/manifests/latest", a.basic(), nil, nil) // not a download
	if err := b.s.App.FlushPullStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := b.admin.get("/ui/projects/team?sort=pulls")
	if !inOrder(p.body, "team/db", `<td class="num">3</td>`, "team/app") {
		t.Fatalf("by pull count:\n%s", p.body)
	}
	res := api(t, b.s.URL, a, "GET", "/api/v1/projects/team/repositories?sort=pulls", "", 200)
	if !strings.Contains(res, `"name":"team/db","tags":1`) || !strings.Contains(res, `"pulls":3`) {
		t.Fatalf("API by pull count: %s", res)
	}
}
