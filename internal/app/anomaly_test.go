package app_test

import (
	"context"
	"fmt"
	"net/http"
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
