package app_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

// TestUIWebhooks drives the webhook pages: create (the secret shown
// once), a refused form, the delivery log after a push, edit, redeliver,
// delete; the system-wide page as a system admin.
func TestUIWebhooks(t *testing.T) {
	s := startUI(t, func(c *config.Config) {
		c.Events.AllowPrivateTargets = true
		c.Events.Poll = 50 * time.Millisecond
	})
	recv := &hookReceiver{}
	rs := httptest.NewServer(recv)
	defer rs.Close()
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	const base = "/ui/projects/team/webhooks"
	want(t, "empty", b.get(base), 200, "No webhooks yet.", `value="cloudevents" selected`)
	want(t, "bad url", b.post(base, url.Values{"name": {"ci"}, "url": {"ftp://x"}}), http.StatusUnprocessableEntity,
		"These settings are not valid", "http or https")
	want(t, "bad url, Chinese", b.do("POST", base, url.Values{"name": {"ci"}, "url": {"ftp://x"}}, map[string]string{"Accept-Language": "zh-CN"}),
		http.StatusUnprocessableEntity, "这些设置无效")
	p := b.post(base, url.Values{"name": {"ci"}, "url": {rs.URL}, "types": {"manifest.pushed"}, "format": {"slack"},
		"headers": {"X-Token: abc"}, "enabled": {"on"}})
	want(t, "created", p, 200, "The webhook is created.", "Copy its signing secret now", "whsec_", `href="/ui/projects/team/webhooks/`)
	recv.secret = html.UnescapeString(between(p.body, `data-copy="`, `"`)) // base64's + is &#43; in an attribute
	id := between(p.body, `href="/ui/projects/team/webhooks/`, `"`)
	want(t, "name taken", b.post(base, url.Values{"name": {"ci"}, "url": {rs.URL}}), http.StatusUnprocessableEntity, "A webhook of that name exists.")

	m := &matrix{url: s.URL, admin: admin}
	m.config = m.pushBlob(t, "team/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "team/app", []byte("layer of team/app"))
	m.pushManifest(t, "team/app", "v1")
	got := recv.wait(t, 1)
	if !strings.Contains(string(got[0].body), `team/app:v1`) || got[0].header.Get("X-Token") != "abc" {
		t.Fatalf("slack message = %s %v", got[0].body, got[0].header)
	}
	detail := base + "/" + id
	// The receiver has the request; the worker records the attempt just after.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(b.get(detail).body, "Delivered") {
			break
		}
	}
	want(t, "delivery log", b.get(detail), 200, "manifest.pushed", "Delivered", "<strong>200</strong>", "X-Token: abc")
	want(t, "dead only", b.get(detail+"?status=dead"), 200, "No deliveries yet.")
	wantDone(t, "disable", b.post(detail, url.Values{"name": {"ci"}, "url": {rs.URL}, "format": {"slack"}}), detail)
	want(t, "disabled", b.get(base), 200, "The webhook is saved.", "Disabled")
	wantDone(t, "redeliver", b.post(detail+"/redeliver", nil), detail)
	want(t, "unknown webhook", b.get(base+"/999"), http.StatusNotFound)
	want(t, "another project's", b.get("/ui/projects/other/webhooks/"+id), http.StatusNotFound)
	wantDone(t, "delete", b.post(detail+"/delete", nil), base)
	want(t, "deleted", b.get(base), 200, "The webhook is deleted.", "No webhooks yet.")

	want(t, "system-wide", b.get("/ui/admin/webhooks"), 200, "System-wide webhooks")
	p = b.post("/ui/admin/webhooks", url.Values{"name": {"all"}, "url": {rs.URL}, "format": {"distribution"}, "enabled": {"on"}})
	want(t, "system created", p, 200, "The webhook is created.", `href="/ui/admin/webhooks/`)
}
