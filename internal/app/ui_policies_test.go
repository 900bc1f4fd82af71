package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestUIPolicies(t *testing.T) {
	s := startUI(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"padmin","password":"padmin-password"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/user/padmin", `{"role":"admin"}`, 200)
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/user/dev", `{"role":"developer"}`, 200)
	m := &matrix{url: s.URL, admin: admin}
	m.config = m.pushBlob(t, "team/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "team/app", []byte("layer of team/app"))
	m.pushManifest(t, "team/app", "old")
	time.Sleep(1100 * time.Millisecond) // push times are kept to the second
	m.pushManifest(t, "team/app", "new")

	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	const base = "/ui/projects/team"
	want(t, "policies", b.get(base+"/policies"), 200, "No quota", "No immutability rules.", "Retention has not run yet.")

	t.Run("quota", func(t *testing.T) {
		want(t, "bad size", b.post(base+"/quota", url.Values{"storage": {"lots"}}), http.StatusUnprocessableEntity, "Enter a size (e.g. 10GiB)")
		want(t, "bad count, Chinese", b.do("POST", base+"/quota", url.Values{"repositories": {"-3"}}, map[string]string{"Accept-Language": "zh-CN"}),
			http.StatusUnprocessableEntity, "请输入大小")
		wantDone(t, "set", b.post(base+"/quota", url.Values{"storage": {"1GiB"}, "repositories": {"10"}}), base+"/policies")
		want(t, "quota shown", b.get(base+"/policies"), 200, "The quota is saved.", "of 1.0 GiB", `<meter min="0" max="1073741824"`, "of 10")
		if body := api(t, s.URL, admin, "GET", "/api/v1/projects/team/quota", "", 200); !strings.Contains(body, `"storage_bytes":1073741824`) || !strings.Contains(body, `"manifests":-1`) {
			t.Fatalf("quota: %s", body)
		}
	})

	t.Run("immutable rules", func(t *testing.T) {
		want(t, "no tags", b.post(base+"/immutable-rules", url.Values{"repositories": {"**"}, "tags": {""}}), http.StatusUnprocessableEntity, "Check the patterns")
		wantDone(t, "add", b.post(base+"/immutable-rules", url.Values{"tags": {"<v>*"}}), base+"/policies")
		p := b.get(base + "/policies")
		want(t, "listed", p, 200, `value="&lt;v&gt;*"`)
		id := between(p.body, `<input form="imm-`, `"`)
		want(t, "bad update", b.post(base+"/immutable-rules/update", url.Values{"id": {id}, "tags": {""}}), http.StatusUnprocessableEntity, "Check the patterns")
		wantDone(t, "update", b.post(base+"/immutable-rules/update", url.Values{"id": {id}, "repositories": {"app"}, "tags": {"v*"}}), base+"/policies")
		if body := api(t, s.URL, admin, "GET", "/api/v1/projects/team/immutable-rules", "", 200); !strings.Contains(body, `"repositories":"app","tags":"v*"`) {
			t.Fatalf("rules: %s", body)
		}
		want(t, "unknown rule", b.post(base+"/immutable-rules/delete", url.Values{"id": {"999"}}), http.StatusNotFound)
		wantDone(t, "delete", b.post(base+"/immutable-rules/delete", url.Values{"id": {id}}), base+"/policies")
	})

	t.Run("retention", func(t *testing.T) {
		rule := func(op, keep, count, tags, schedule string) url.Values {
			return url.Values{"op": {op}, "keep": {keep, ""}, "repositories": {"", ""}, "tags": {tags, ""}, "count": {count, ""}, "days": {"", ""}, "schedule": {schedule}}
		}
		for _, tc := range []struct {
			name string
			form url.Values
			lang string
			msg  string
		}{
			{"count not a number", rule("preview", "latest_pushed", "x", "", ""), "", "Rule 1 is not valid"},
			{"no count (service)", rule("save", "latest_pushed", "", "", ""), "", "Rule 1 is not valid"},
			{"no count, Chinese", rule("save", "latest_pushed", "", "", ""), "zh-CN", "第 1 条规则无效"},
			{"bad schedule", rule("save", "latest_pushed", "1", "", "daily"), "", "Use @hourly, @daily, @weekly"},
			{"bad pattern", rule("save", "always", "", "{", ""), "", "Rule 1 is not valid: check its patterns"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want(t, tc.name, b.do("POST", base+"/retention", tc.form, map[string]string{"Accept-Language": tc.lang}), http.StatusUnprocessableEntity, tc.msg)
			})
		}
		p := b.post(base+"/retention", rule("preview", "latest_pushed", "1", "", ""))
		want(t, "preview", p, 200, "what these rules would delete now", "1 repositories, 1 tags kept, 1 tags and 0 untagged manifests deleted", "<td>old</td>")
		api(t, s.URL, admin, "GET", "/api/v1/projects/team/retention", "", 404) // nothing saved
		wantDone(t, "save", b.post(base+"/retention", rule("save", "latest_pushed", "1", "", "@daily")), base+"/policies")
		want(t, "saved", b.get(base+"/policies"), 200, "The retention rules are saved.", `<option value="latest_pushed" selected>`, `value="@daily"`)
		wantDone(t, "dry run", b.post(base+"/retention/run", url.Values{"dry_run": {"1"}}), base+"/policies")
		want(t, "dry run recorded", b.get(base+"/policies"), 200, "Retention ran", "dry run")
		if res := send(t, "GET", s.URL+"/v2/team/app/manifests/old", admin.basic(), nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"}); res.status != 200 {
			t.Fatalf("a dry run deleted old: %d", res.status)
		}
		wantDone(t, "run", b.post(base+"/retention/run", url.Values{}), base+"/policies")
		if res := send(t, "GET", s.URL+"/v2/team/app/manifests/old", admin.basic(), nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"}); res.status != 404 {
			t.Fatalf("old after the run: %d", res.status)
		}
		if body := api(t, s.URL, admin, "GET", "/api/v1/projects/team/retention/runs", "", 200); !strings.Contains(body, `"trigger":"ui"`) {
			t.Fatalf("runs: %s", body)
		}
		wantDone(t, "remove", b.post(base+"/retention/delete", url.Values{}), base+"/policies")
		api(t, s.URL, admin, "GET", "/api/v1/projects/team/retention", "", 404)
		wantDone(t, "run without rules", b.post(base+"/retention/run", url.Values{}), base+"/policies")
		want(t, "no rules flash", b.get(base+"/policies"), 200, "no retention rules to run")
	})

	t.Run("permissions", func(t *testing.T) {
		pa := newBrowser(t, s.URL)
		pa.login("padmin", "padmin-password")
		p := pa.get(base + "/policies")
		want(t, "project admin", p, 200, `action="/ui/projects/team/retention"`)
		if strings.Contains(p.body, `action="/ui/projects/team/quota"`) {
			t.Fatal("a project admin sees the quota form (system admins set quotas)")
		}
		want(t, "project admin sets quota", pa.post(base+"/quota", url.Values{"storage": {"1TiB"}}), http.StatusForbidden)
		d := newBrowser(t, s.URL)
		d.login("dev", "dev-password")
		wantDone(t, "rules for the developer to read", b.post(base+"/retention", url.Values{"op": {"save"}, "keep": {"pushed_within"}, "days": {"30"}}), base+"/policies")
		if p := d.get(base + "/policies"); p.status != 200 || strings.Contains(p.body, `<form method="post" action="/ui/projects/team/`) ||
			!strings.Contains(p.body, "<td>pushed within (days)</td>") {
			t.Fatalf("developer: %d, forms shown or rules not:\n%s", p.status, p.body)
		}
		want(t, "developer adds a rule", d.post(base+"/immutable-rules", url.Values{"tags": {"**"}}), http.StatusForbidden)
	})
}

// between returns the text of s between the first before and the next after.
func between(s, before, after string) string {
	_, rest, ok := strings.Cut(s, before)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, after)
	return v
}
