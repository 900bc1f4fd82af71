package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

func TestUIAdminUsers(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	const base = "/ui/admin/users"
	want(t, "users", b.get(base), 200, "<td>admin <span class=\"badge\">you</span>")

	for _, tc := range []struct {
		name string
		form url.Values
		lang string
		msg  string
	}{
		{"bad name", url.Values{"name": {"two words"}, "password": {"long-enough"}}, "", "Use 1 to 128 characters"},
		{"short password", url.Values{"name": {"bob"}, "password": {"short"}}, "", "A password needs at least 8 characters"},
		{"short password, Chinese", url.Values{"name": {"bob"}, "password": {"short"}}, "zh-CN", "密码至少 8 个字符"},
		{"exists", url.Values{"name": {"admin"}, "password": {"long-enough"}}, "", "A user of that name exists."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, tc.name, b.do("POST", base, tc.form, map[string]string{"Accept-Language": tc.lang}), http.StatusUnprocessableEntity, tc.msg)
		})
	}
	wantDone(t, "create", b.post(base, url.Values{"name": {hostile}, "password": {"hostile-password"}, "admin": {"1"}}), base)
	p := b.get(base)
	want(t, "created", p, 200, "The user is created.", escaped)
	if strings.Contains(p.body, hostile) {
		t.Fatal("a user name is not escaped")
	}
	wantDone(t, "revoke admin", b.post(base+"/admin", url.Values{"user": {hostile}, "admin": {"0"}}), base)
	want(t, "last admin", b.post(base+"/admin", url.Values{"user": {"admin"}, "admin": {"0"}}), http.StatusUnprocessableEntity, "This is the last administrator")
	want(t, "disable the last admin", b.post(base+"/disable", url.Values{"user": {"admin"}, "disabled": {"1"}}), http.StatusUnprocessableEntity, "This is the last administrator")
	want(t, "empty password", b.post(base+"/password", url.Values{"user": {hostile}, "password": {""}}), http.StatusUnprocessableEntity, "Enter the new password.")
	wantDone(t, "reset password", b.post(base+"/password", url.Values{"user": {hostile}, "password": {"reset-password"}}), base)
	api(t, s.URL, cred{hostile, "reset-password"}, "GET", "/api/v1/me", "", 200)
	// Disabled, the user's session ends and log-in is refused; enabled again, it works.
	h := newBrowser(t, s.URL)
	h.login(hostile, "reset-password")
	wantDone(t, "disable", b.post(base+"/disable", url.Values{"user": {hostile}, "disabled": {"1"}}), base)
	want(t, "disabled shown", b.get(base), 200, `<span class="badge warn">disabled</span>`)
	if p := h.get("/ui/user"); p.status != http.StatusSeeOther {
		t.Fatalf("a disabled user's session: %d", p.status)
	}
	want(t, "disabled log-in", h.post("/ui/login", url.Values{"username": {hostile}, "password": {"reset-password"}}), http.StatusUnprocessableEntity, "Wrong user name or password.")
	wantDone(t, "enable", b.post(base+"/disable", url.Values{"user": {hostile}, "disabled": {"0"}}), base)
	// The user's session ends with the user.
	h.login(hostile, "reset-password")
	wantDone(t, "delete", b.post(base+"/delete", url.Values{"user": {hostile}}), base)
	if p := h.get("/ui/user"); p.status != http.StatusSeeOther {
		t.Fatalf("a deleted user's session: %d", p.status)
	}
	want(t, "unknown user", b.post(base+"/delete", url.Values{"user": {"nobody"}}), http.StatusNotFound)
	// The audit page shows the hostile user's log-ins as text.
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := b.get("/ui/admin/audit?user=" + url.QueryEscape(hostile))
		if strings.Contains(p.body, hostile) {
			t.Fatal("the audit page does not escape a user name")
		}
		if strings.Contains(p.body, "<td>"+escaped+"</td>") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event of the hostile user on the audit page:\n%s", p.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUIAdminGCAndScrub(t *testing.T) {
	s := startUI(t, func(c *config.Config) { c.GC.GracePeriod = 0 })
	admin := cred{"admin", adminPassword}
	m := &matrix{url: s.URL, admin: admin}
	m.config = m.pushBlob(t, "lib/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "lib/app", []byte("a layer nothing will reference"))
	m.pushManifest(t, "lib/app", "v1")
	if res := send(t, "DELETE", s.URL+"/v2/lib/app/manifests/v1", admin.basic(), nil, nil); res.status != 202 {
		t.Fatalf("delete tag: %d %s", res.status, res.body)
	}
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)

	want(t, "gc page", b.get("/ui/admin/gc"), 200, "No run yet.", "Dry run (preview)")
	wantDone(t, "gc dry run", b.post("/ui/admin/gc", url.Values{"dry_run": {"1"}}), "/ui/admin/gc")
	waitIdle(t, b, "/ui/admin/gc/status")
	want(t, "dry run report", b.get("/ui/admin/gc"), 200, "<dd>dry run</dd>", "What went (")
	wantDone(t, "gc run", b.post("/ui/admin/gc", url.Values{}), "/ui/admin/gc")
	waitIdle(t, b, "/ui/admin/gc/status")
	p := b.get("/ui/admin/gc")
	want(t, "run report", p, 200, "<dd>run</dd>")
	if body := api(t, s.URL, admin, "GET", "/api/v1/gc", "", 200); !strings.Contains(body, `"dry_run":false`) || !strings.Contains(body, `"blobs":2`) {
		t.Fatalf("the page's run is not the API's: %s", body)
	}
	// Both runs are in the history, newest first, on the API and the page.
	var hist struct {
		Runs []struct {
			StartedAt  time.Time `json:"started_at"`
			FinishedAt time.Time `json:"finished_at"`
			Report     struct {
				DryRun bool  `json:"dry_run"`
				Blobs  int64 `json:"blobs"`
			} `json:"report"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(api(t, s.URL, admin, "GET", "/api/v1/gc/runs", "", 200)), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist.Runs) != 2 || hist.Runs[0].Report.DryRun || !hist.Runs[1].Report.DryRun || hist.Runs[0].Report.Blobs != 2 ||
		hist.Runs[0].FinishedAt.Before(hist.Runs[0].StartedAt) || hist.Runs[0].StartedAt.Before(hist.Runs[1].FinishedAt) {
		t.Fatalf("gc history: %+v", hist.Runs)
	}
	want(t, "gc history", p, 200, "Recent runs", "The last 20 finished runs")
	if n := strings.Count(between(p.body, "Recent runs", "</table>"), "<tr>"); n != 3 { // the header and two runs
		t.Fatalf("gc history table: %d rows\n%s", n, p.body)
	}

	wantDone(t, "scrub", b.post("/ui/admin/scrub", url.Values{}), "/ui/admin/scrub")
	waitIdle(t, b, "/ui/admin/scrub/status")
	want(t, "scrub report", b.do("GET", "/ui/admin/scrub", nil, map[string]string{"Accept-Language": "zh-CN"}), 200, "所有 blob 均完好。")
	want(t, "scrub history", b.get("/ui/admin/scrub"), 200, "Recent runs", `<span class="badge ok">OK</span>`)
	if body := api(t, s.URL, admin, "GET", "/api/v1/scrub/runs", "", 200); !strings.HasPrefix(body, `{"runs":[{"started_at":`) || strings.Count(body, `"finished_at"`) != 2 {
		t.Fatalf("scrub history: %s", body) // two finished_at: the run's and its report's
	}
}

// waitIdle polls a job's status route (as berth.js does) until the job is
// neither queued nor running.
func waitIdle(t *testing.T, b *browser, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := b.get(path)
		if p.status != 200 || p.header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, p.status, p.body)
		}
		if strings.Contains(p.body, `"state":"done"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", path, p.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUIAdminAuditKeysSystemProxy(t *testing.T) {
	s := startUI(t, nil)
	admin := cred{"admin", adminPassword}
	for _, name := range []string{"a1", "a2", "a3"} {
		api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"`+name+`"}`, 201)
		api(t, s.URL, admin, "PUT", "/api/v1/projects/"+name+"/members/user/admin", `{"role":"guest"}`, 200)
	}
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)

	t.Run("audit", func(t *testing.T) {
		var p page
		deadline := time.Now().Add(5 * time.Second)
		for { // the log is written asynchronously
			p = b.get("/ui/admin/audit?action=member_put&n=2")
			if strings.Contains(p.body, "projects/a3/") || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		want(t, "filtered", p, 200, `name="action" value="member_put"`, "projects/a3/", "projects/a2/", "Older events")
		if strings.Contains(p.body, "projects/a1/") {
			t.Fatal("page 1 of 2-event pages holds the third event")
		}
		// Times in the language's style, the exact time in <time datetime>.
		if !regexp.MustCompile(`<time datetime="[0-9T:.-]+Z">[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4} [0-9]{2}:[0-9]{2} UTC</time>`).MatchString(p.body) {
			t.Fatalf("audit times not formatted for English:\n%s", p.body)
		}
		next := between(p.body, `<p class="pager"><a href="`, `"`)
		next = strings.ReplaceAll(next, "&amp;", "&")
		if !strings.Contains(next, "before=") || !strings.Contains(next, "action=member_put") {
			t.Fatalf("next page link %q", next)
		}
		want(t, "page 2", b.get(next), 200, "projects/a1/")
		want(t, "bad since", b.get("/ui/admin/audit?since=yesterday"), http.StatusUnprocessableEntity, "Write the time as 2026-01-02T15:04:05Z")
		want(t, "bad n, Chinese", b.do("GET", "/ui/admin/audit?n=0", nil, map[string]string{"Accept-Language": "zh-CN"}), http.StatusUnprocessableEntity, "请输入正整数。")
	})

	t.Run("keys", func(t *testing.T) {
		p := b.get("/ui/admin/keys")
		want(t, "keys", p, 200, "signing", "ES256")
		wantDone(t, "rotate", b.post("/ui/admin/keys/rotate", url.Values{}), "/ui/admin/keys")
		p = b.get("/ui/admin/keys")
		want(t, "rotated", p, 200, "A new signing key signs from now on.", "retired ")
		if n := len(regexp.MustCompile(`<td>ES256</td>`).FindAllString(p.body, -1)); n != 2 {
			t.Fatalf("%d keys after a rotation", n)
		}
	})

	t.Run("system", func(t *testing.T) {
		want(t, "system", b.get("/ui/admin"), 200, "filesystem", "sqlite", "builtin", "<strong>3</strong>")
		want(t, "system, Chinese", b.do("GET", "/ui/admin", nil, map[string]string{"Accept-Language": "zh-CN"}), 200, "存储驱动", "分钟")
		want(t, "settings", b.get("/ui/admin"), 200, `<option value="admins" selected>`)
		want(t, "bad setting", b.do("POST", "/ui/admin/settings", url.Values{"project_creation": {"everyone"}}, map[string]string{"Accept-Language": "zh-CN"}),
			http.StatusUnprocessableEntity, "请选择仅管理员或所有用户。")
		wantDone(t, "setting", b.post("/ui/admin/settings", url.Values{"project_creation": {"users"}}), "/ui/admin")
		if body := api(t, s.URL, admin, "GET", "/api/v1/settings", "", 200); !strings.Contains(body, `"project_creation":"users"`) {
			t.Fatalf("settings: %s", body)
		}
	})

	t.Run("proxy", func(t *testing.T) {
		want(t, "no upstreams", b.get("/ui/admin/proxy"), 200, "No upstream is configured")
	})
}

// TestUIFormsAudited: a change made through a UI form is in the audit log
// under the UI route's name, with the user; the language switch is not.
func TestUIFormsAudited(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	wantDone(t, "create", b.post("/ui/admin/users", url.Values{"name": {"carol"}, "password": {"carol-password"}}), "/ui/admin/users")
	b.post("/ui/lang", url.Values{"lang": {"en"}, "next": {"/ui/"}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := api(t, s.URL, cred{"admin", adminPassword}, "GET", "/api/v1/audit?user=admin", "", 200)
		if strings.Contains(body, `"action":"ui_admin_user_create","user":"admin"`) {
			if strings.Contains(body, "ui_lang") {
				t.Fatalf("the language switch is audited: %s", body)
			}
			if !strings.Contains(body, `"reference":"admin/users","status":"success","http_status":303`) {
				t.Fatalf("event: %s", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ui_admin_user_create event: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUIAdminProxy(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	s := startUI(t, func(c *config.Config) {
		c.Proxy.Upstreams = []config.Upstream{{Name: "hub", URL: down.URL, Project: "hub", ManifestTTL: time.Hour,
			CacheSize: config.ByteSize(1 << 30), Timeout: 5 * time.Second},
			{Name: "mirror", URL: down.URL, Project: "mirror", ManifestTTL: time.Hour, Timeout: 5 * time.Second,
				Sync: []config.SyncRule{{Repository: "library/app"}}, SyncInterval: 24 * time.Hour}}
	})
	admin := cred{"admin", adminPassword}
	if res := send(t, "GET", s.URL+"/v2/hub/library/app/manifests/v1", admin.basic(), nil, nil); res.status < 500 && res.status != 404 {
		t.Fatalf("pull through a failing upstream: %d", res.status)
	}
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	want(t, "proxy", b.get("/ui/admin/proxy"), 200, "<strong>hub</strong>", down.URL, "/ 1.0 GiB", `<meter min="0" max="1073741824"`, "0%")
	want(t, "proxy, Chinese", b.do("GET", "/ui/admin/proxy", nil, map[string]string{"Accept-Language": "zh-CN"}), 200, "清单命中率")
	p := b.get("/ui/admin/proxy")
	want(t, "sync", p, 200, "no sync rules", `<input type="hidden" name="upstream" value="mirror">`)
	if strings.Contains(p.body, `name="upstream" value="hub"`) {
		t.Fatal("an upstream without sync rules has a sync button")
	}
	wantDone(t, "sync now", b.post("/ui/admin/proxy/sync", url.Values{"upstream": {"mirror"}}), "/ui/admin/proxy")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.get("/ui/admin/proxy").body, "last run: 0 tags updated, 0 unchanged, 1 failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no sync report:\n%s", b.get("/ui/admin/proxy").body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want(t, "sync of an upstream without rules", b.post("/ui/admin/proxy/sync", url.Values{"upstream": {"hub"}}), http.StatusNotFound)
}

func TestUIAdminRobots(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	const base = "/ui/admin/robots"
	want(t, "robots", b.get(base), 200, "No system robots.")
	for _, tc := range []struct {
		name string
		form url.Values
		lang string
		msg  string
	}{
		{"no projects", url.Values{"name": {"ci"}, "actions": {"pull"}}, "", "Name at least one project and tick at least one permission."},
		{"bad project", url.Values{"name": {"ci"}, "projects": {"Team A"}, "actions": {"pull"}}, "", "Name existing projects, separated by commas, or *."},
		{"bad project, Chinese", url.Values{"name": {"ci"}, "projects": {"Team A"}, "actions": {"pull"}}, "zh-CN", "请填写以逗号分隔的项目名"},
		{"no actions", url.Values{"name": {"ci"}, "projects": {"*"}}, "", "Name at least one project and tick at least one permission."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, tc.name, b.do("POST", base, tc.form, map[string]string{"Accept-Language": tc.lang}), http.StatusUnprocessableEntity, tc.msg)
		})
	}
	p := b.post(base, url.Values{"name": {"ci"}, "projects": {"team-a, *"}, "actions": {"pull", "push"}})
	want(t, "create", p, 200, "shown only this once", "robot$ci", "<strong>team-a</strong>: pull, push", "<strong>*</strong>: pull, push")
	secret := regexp.MustCompile(`<code>([0-9a-f]{20,})</code>`).FindStringSubmatch(p.body)
	if secret == nil {
		t.Fatalf("no secret:\n%s", p.body)
	}
	if res := send(t, "GET", s.URL+"/v2/", cred{"robot$ci", secret[1]}.basic(), nil, nil); res.status != 200 {
		t.Fatalf("system robot secret: %d", res.status)
	}
	if body := api(t, s.URL, cred{"admin", adminPassword}, "GET", "/api/v1/robots", "", 200); !strings.Contains(body, `"name":"robot$ci"`) {
		t.Fatalf("robots: %s", body)
	}
	wantDone(t, "delete", b.post(base+"/delete", url.Values{"robot": {"ci"}}), base)
	want(t, "deleted", b.get(base), 200, "No system robots.")
}
