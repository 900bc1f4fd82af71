package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/scan/scantest"
)

// The artifact page shows the scan badge and a scan button; the button
// scans (the same service call as the API), and the report page lists
// the findings in the viewer's language. Viewers who may not scan see no
// button and are refused when they post one.
func TestUIScan(t *testing.T) {
	s := apptest.Start(t, nil)
	img := scantest.PushImage(t, s.URL, "team/app", "v1", scantest.ImageLayers(t)...)
	page := "/ui/repositories/team/app@" + img.Digest.String()
	b := newBrowser(t, s.URL)

	p := b.get(page)
	if p.status != 200 || !strings.Contains(p.body, "Not scanned") || !strings.Contains(p.body, `value="scan"`) {
		t.Fatalf("artifact page before a scan: %d, lacks the badge or button:\n%s", p.status, p.body)
	}
	p = b.post(page, url.Values{"action": {"scan"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "No vulnerability database is loaded") {
		t.Fatalf("scan without a database: %d", p.status)
	}

	pushDB(t, s.URL, scantest.Advisories...)
	if err := s.App.LoadVulnDB(context.Background()); err != nil {
		t.Fatal(err)
	}
	p = b.post(page, url.Values{"action": {"scan"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != page+"?view=vulnerabilities" {
		t.Fatalf("scan button: %d %s", p.status, p.header.Get("Location"))
	}
	p = b.get(page)
	for _, want := range []string{`<span class="badge warn">Critical</span> 4 vulnerabilities`, "ALPINE-TEST-busybox", "?view=vulnerabilities"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("artifact page after a scan lacks %q", want)
		}
	}
	p = b.get(page + "?view=vulnerabilities")
	for _, f := range scantest.Expected {
		if !strings.Contains(p.body, f.ID) || !strings.Contains(p.body, f.Fixed) {
			t.Errorf("report page lacks %s fixed in %s", f.ID, f.Fixed)
		}
	}
	b.hdr["Accept-Language"] = "zh-CN"
	if p := b.get(page + "?view=vulnerabilities"); !strings.Contains(p.body, "漏洞报告") || !strings.Contains(p.body, "严重") {
		t.Errorf("report page in Chinese lacks its title or severity")
	}
}
