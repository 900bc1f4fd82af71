package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// TestUIReplication drives the replication pages as an administrator: a
// registry (a second Berth) is registered and checked, a pull rule made
// (a refused one shows why), run from the page, and the run's page lists
// its task; the same data as /api/v1/replication.
func TestUIReplication(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)

	// The source: a Berth without access control holding one image.
	src := apptest.Start(t, nil)
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	if st, body := pushBlob(t, src.URL, "team/app", cfg); st != http.StatusCreated {
		t.Fatalf("push config: %d %s", st, body)
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}`, digest.FromBytes(cfg), len(cfg))
	req, _ := http.NewRequest("PUT", src.URL+"/v2/team/app/manifests/v1", strings.NewReader(m))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("push manifest: %v %v", resp, err)
	}
	resp.Body.Close()

	want(t, "empty", b.get("/ui/admin/replication"), 200, "No registry is registered.", "No rule yet.")
	want(t, "bad registry", b.post("/ui/admin/replication/registries", url.Values{"reg_name": {"site-a"}, "type": {"berth"}, "url": {"ftp://x"}}),
		http.StatusUnprocessableEntity, "This definition is refused:", "want http(s)://host[:port]", `value="site-a"`)
	wantDone(t, "registry", b.post("/ui/admin/replication/registries", url.Values{"reg_name": {"site-a"}, "type": {"berth"}, "url": {src.URL},
		"username": {"someone"}, "password": {"s3cret"}}), "/ui/admin/replication")
	p := b.get("/ui/admin/replication")
	want(t, "registered", p, 200, "<strong>site-a</strong>", src.URL, "someone")
	if strings.Contains(p.body, "s3cret") {
		t.Fatal("the page shows the password")
	}
	want(t, "taken", b.post("/ui/admin/replication/registries", url.Values{"reg_name": {"site-a"}, "type": {"berth"}, "url": {src.URL}}),
		http.StatusUnprocessableEntity, "This name is taken.")
	want(t, "health", b.post("/ui/admin/replication/registries/health", url.Values{"registry": {"site-a"}}), 200, `<span class="badge ok">healthy</span>`)

	want(t, "bad rule", b.post("/ui/admin/replication/rules", url.Values{"rule_name": {"pull-a"}, "direction": {"pull"}, "registry": {"site-a"},
		"tags": {"["}, "enabled": {"on"}}), http.StatusUnprocessableEntity, "This definition is refused:", "not a valid glob")
	want(t, "bad number", b.post("/ui/admin/replication/rules", url.Values{"rule_name": {"pull-a"}, "direction": {"pull"}, "registry": {"site-a"},
		"latest": {"many"}}), http.StatusUnprocessableEntity, "Enter a whole number.")
	wantDone(t, "rule", b.post("/ui/admin/replication/rules", url.Values{"rule_name": {"pull-a"}, "direction": {"pull"}, "registry": {"site-a"},
		"repositories": {"team/app"}, "namespace": {"copy"}, "enabled": {"on"}}), "/ui/admin/replication")
	want(t, "rule listed", b.get("/ui/admin/replication"), 200, "<strong>pull-a</strong>", "pull from site-a", "copy/…")
	want(t, "registry in use", b.post("/ui/admin/replication/registries/delete", url.Values{"registry": {"site-a"}}),
		http.StatusUnprocessableEntity, "rule pull-a replicates with registry site-a")

	p = b.post("/ui/admin/replication/rules/run", url.Values{"rule": {"pull-a"}})
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !regexp.MustCompile(`^/ui/admin/replication/runs/\d+$`).MatchString(loc) {
		t.Fatalf("run now: %d %q", p.status, loc)
	}
	deadline := time.Now().Add(30 * time.Second)
	// The run's own status (a <dd>), not its task's, which succeeds first.
	for !strings.Contains(b.get(loc).body, `<dd><span class="badge ok">succeeded</span>`) {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not succeed:\n%s", b.get(loc).body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want(t, "run page", b.get(loc), 200, "team/app:v1", "copy/team/app", "1 succeeded, 0 failed, 0 skipped, 0 to do", "Run again")
	want(t, "run page, Chinese", b.do("GET", loc, nil, map[string]string{"Accept-Language": "zh-CN"}), 200, "成功 1，失败 0")
	if body := api(t, s.URL, cred{"admin", adminPassword}, "GET", "/v2/copy/team/app/tags/list", "", 200); !strings.Contains(body, `"v1"`) {
		t.Fatalf("pulled tags: %s", body)
	}
	wantDone(t, "stop an ended run", b.post("/ui/admin/replication/runs/stop", url.Values{"run": {strings.TrimPrefix(loc, "/ui/admin/replication/runs/")}}), loc)
	want(t, "unknown run", b.get("/ui/admin/replication/runs/999"), http.StatusNotFound)
	wantDone(t, "delete rule", b.post("/ui/admin/replication/rules/delete", url.Values{"rule": {"pull-a"}}), "/ui/admin/replication")
	wantDone(t, "delete registry", b.post("/ui/admin/replication/registries/delete", url.Values{"registry": {"site-a"}}), "/ui/admin/replication")
	want(t, "empty again", b.get("/ui/admin/replication"), 200, "No registry is registered.")
}
