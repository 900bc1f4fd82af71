package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/anomaly"
	"github.com/berth-registry/berth/internal/app/apptest"
)

// waitBody polls GET url until its body contains want.
func waitBody(t *testing.T, url, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, body := call(t, "GET", url, "")
		if st == http.StatusOK && strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s; never contained %s", url, st, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAnomalyEndToEnd: an anonymous client probing 25 repository names
// that do not exist is found by the anomaly job as failed_pulls, shown by
// GET /api/v1/anomalies with its identity and reason, counted in
// berth_anomalies_total and recorded in the audit log.
func TestAnomalyEndToEnd(t *testing.T) {
	s := apptest.Start(t, nil)
	for i := range 25 {
		if st, body := call(t, "GET", fmt.Sprintf("%s/v2/team/guess%d/manifests/latest", s.URL, i), ""); st != http.StatusNotFound {
			t.Fatalf("probe %d: %d %s", i, st, body)
		}
	}
	waitBody(t, s.URL+"/api/v1/audit?action=pull&n=1000", `"repository":"team/guess24"`)
	rep, err := s.App.Jobs().RunNow(context.Background(), anomaly.JobName, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep, `"pulls":25`) || !strings.Contains(rep, `"findings":1`) {
		t.Errorf("report %s", rep)
	}

	api := s.URL + "/api/v1/anomalies"
	for _, tc := range []struct {
		query  string
		status int
		want   []string
		not    string
	}{
		{"", http.StatusOK, []string{`"kind":"failed_pulls"`, `"identity":"addr:127.0.0.1"`, `"client_ip":"127.0.0.1"`,
			`"reason":"20 pulls refused (401/403/404) in the hour, over 20 repositories`}, ""},
		{"?identity=addr:127.0.0.1&kind=failed_pulls", http.StatusOK, []string{`"kind":"failed_pulls"`}, ""},
		{"?since=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), http.StatusOK, []string{`"kind":"failed_pulls"`}, ""},
		{"?identity=user:alice", http.StatusOK, []string{`{"anomalies":[]}`}, "failed_pulls"},
		{"?kind=burst", http.StatusOK, []string{`{"anomalies":[]}`}, "failed_pulls"},
		{"?since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), http.StatusOK, []string{`{"anomalies":[]}`}, ""},
		{"?kind=weird", http.StatusBadRequest, []string{"kind: not one of"}, ""},
		{"?since=yesterday", http.StatusBadRequest, []string{"since: not an RFC 3339 time"}, ""},
		{"?n=0", http.StatusBadRequest, []string{"n: not a positive integer"}, ""},
	} {
		st, body := call(t, "GET", api+tc.query, "")
		expect(t, "anomalies"+tc.query, st, body, tc.status, tc.want...)
		if tc.not != "" && strings.Contains(body, tc.not) {
			t.Errorf("anomalies%s: %s", tc.query, body)
		}
	}
	if got := scrape(t, s.URL)["berth_anomalies_total{kind=failed_pulls}"]; got != 1 {
		t.Errorf("berth_anomalies_total{kind=failed_pulls} = %v", got)
	}
	waitBody(t, s.URL+"/api/v1/audit?action=anomaly", `"reference":"failed_pulls"`)

	testUIAnomalies(t, s.URL)

	// A second run reads nothing new and finds nothing more.
	rep, err = s.App.Jobs().RunNow(context.Background(), anomaly.JobName, "")
	if err != nil || !strings.Contains(rep, `"findings":0`) || !strings.Contains(rep, `"pulls":0`) {
		t.Errorf("second run: %s %v", rep, err)
	}
}

// TestAnomaliesNeedSystemAdmin: the findings name users and addresses.
func TestAnomaliesNeedSystemAdmin(t *testing.T) {
	s := startAuth(t, nil)
	for _, tc := range []struct {
		who  string
		cred string
		want int
	}{
		{"anonymous", "", http.StatusUnauthorized},
		{"admin", cred{"admin", adminPassword}.basic(), http.StatusOK},
	} {
		if r := send(t, "GET", s.URL+"/api/v1/anomalies", tc.cred, nil, nil); r.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.who, r.status, r.body, tc.want)
		}
	}
}

// testUIAnomalies: the administration page shows the finding of
// TestAnomalyEndToEnd with the API's filters (deep links) and paging, in
// the viewer's language; a bad filter is a 422 with the message beside
// it (auth.mode none: the page is open, as the API).
func testUIAnomalies(t *testing.T, base string) {
	b := newBrowser(t, base)
	p := b.get("/ui/admin/anomalies")
	want(t, "anomalies", p, 200, "Pull anomalies", "addr:127.0.0.1", "Refused pulls",
		"20 pulls refused (401/403/404) in the hour", `<time datetime="`, `href="/ui/admin/anomalies?kind=failed_pulls"`)
	want(t, "tabs", b.get("/ui/admin"), 200, `href="/ui/admin/anomalies"`)
	want(t, "by identity and kind", b.get("/ui/admin/anomalies?identity=addr:127.0.0.1&kind=failed_pulls"), 200,
		"addr:127.0.0.1", `<option value="failed_pulls" selected>`)
	for _, q := range []string{"?identity=user:alice", "?kind=burst", "?since=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))} {
		if p := b.get("/ui/admin/anomalies" + q); p.status != 200 || strings.Contains(p.body, "addr:127.0.0.1</a>") || !strings.Contains(p.body, "No findings match.") {
			t.Errorf("anomalies%s: %d, finding shown or no empty note:\n%s", q, p.status, p.body)
		}
	}
	// One per page: the next page (before= the last id) is older, here empty.
	p = b.get("/ui/admin/anomalies?n=1")
	next := strings.ReplaceAll(between(p.body, `<p class="pager"><a href="`, `"`), "&amp;", "&")
	if !strings.Contains(next, "before=") || !strings.Contains(next, "n=1") {
		t.Fatalf("next page link %q", next)
	}
	want(t, "page 2", b.get(next), 200, "No findings match.")
	want(t, "bad kind", b.get("/ui/admin/anomalies?kind=weird"), http.StatusUnprocessableEntity, "Choose one of the kinds")
	want(t, "bad since", b.get("/ui/admin/anomalies?since=yesterday"), http.StatusUnprocessableEntity, "Write the time as 2026-01-02T15:04:05Z")
	want(t, "Chinese", b.do("GET", "/ui/admin/anomalies", nil, map[string]string{"Accept-Language": "zh-CN"}), 200, "拉取异常", "被拒绝的拉取")
}
