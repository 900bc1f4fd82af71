package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
)

type auditLine struct {
	Action, User, Image, Repository, Reference, Digest, Status string
	HTTPStatus                                                 int    `json:"http_status"`
	RequestID                                                  string `json:"request_id"`
	ClientIP                                                   string `json:"client_ip"`
}

// auditEvents polls the audit API until it returns want events (the log
// is written asynchronously).
func auditEvents(t *testing.T, url string, want int) []auditLine {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Events []auditLine }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("audit API: %d %v", resp.StatusCode, err)
		}
		if len(body.Events) >= want || time.Now().After(deadline) {
			return body.Events
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuditLog(t *testing.T) {
	out := filepath.Join(t.TempDir(), "audit.log")
	s := apptest.Start(t, func(c *config.Config) { c.Audit.Output, c.Audit.Pulls = out, "full" })
	const repo = "team/app"
	cfg := []byte("{}")
	cd := digest.FromBytes(cfg)
	resp := do(t, "POST", s.URL+"/v2/"+repo+"/blobs/uploads/?digest="+cd.String(), strings.NewReader(string(cfg)), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push blob: %d", resp.StatusCode)
	}
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cd.String() + `","size":2},"layers":[]}`
	md := digest.FromString(m).String()
	secret := map[string]string{"Authorization": "Basic c2VjcmV0OnBhc3N3b3Jk"}
	steps := []struct{ method, ref string }{
		{"PUT", "v1"}, {"GET", "v1"}, {"HEAD", "v1"}, {"GET", md}, {"GET", "missing"}, {"DELETE", md},
	}
	for _, st := range steps {
		hdr := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
		if st.method == "GET" {
			hdr = secret
		}
		var body *strings.Reader
		if st.method == "PUT" {
			body = strings.NewReader(m)
		} else {
			body = strings.NewReader("")
		}
		do(t, st.method, s.URL+"/v2/"+repo+"/manifests/"+st.ref, body, hdr)
	}
	got := auditEvents(t, s.URL+"/api/v1/audit", 5)
	want := []struct{ action, image, status string }{ // newest first; the HEAD is not audited
		{"delete", repo + "@" + md, "success"},
		{"pull", repo + ":missing", "failure"},
		{"pull", repo + "@" + md, "success"},
		{"pull", repo + ":v1", "success"},
		{"push", repo + ":v1", "success"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.action || g.Image != w.image || g.Status != w.status || g.RequestID == "" || g.ClientIP != "127.0.0.1" {
			t.Errorf("event %d: %+v, want %+v", i, g, w)
		}
	}
	if got[4].Digest != md {
		t.Errorf("push event digest %q, want %s", got[4].Digest, md)
	}
	if f := auditEvents(t, s.URL+"/api/v1/audit?action=pull&n=2", 2); len(f) != 2 || f[0].Action != "pull" {
		t.Errorf("filtered: %+v", f)
	}
	if resp := do(t, "GET", s.URL+"/api/v1/audit?since=yesterday", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad since: %d", resp.StatusCode)
	}
	s.App.Close() // flushes the file
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != len(want) {
		t.Errorf("audit file has %d lines, want %d:\n%s", n, len(want), b)
	}
	if strings.Contains(string(b), "c2VjcmV0") || strings.Contains(string(b), "password") {
		t.Errorf("audit file holds a secret:\n%s", b)
	}
}

// Issue 13, finding 1: a refused Basic login with a huge user name is
// audited without the name, and the audit log stays small.
func TestAuditHugeBasicUser(t *testing.T) {
	out := filepath.Join(t.TempDir(), "audit.log")
	s := startAuth(t, func(c *config.Config) { c.Audit.Output = out })
	huge := cred{user: strings.Repeat("u", 700000), pass: "p"}.basic()
	const n = 40
	for range n {
		if res := send(t, "GET", s.URL+"/token?service=berth", huge, nil, nil); res.status != http.StatusUnauthorized {
			t.Fatalf("huge user: %d", res.status)
		}
	}
	send(t, "GET", s.URL+"/token?service=berth", cred{"mallory", "wrong-password"}.basic(), nil, nil)
	admin := cred{"admin", adminPassword}
	got := auditEventsAs(t, s.URL+"/api/v1/audit?action=login&n=1000", admin, n+1)
	if len(got) < n+1 {
		t.Fatalf("%d login events, want %d", len(got), n+1)
	}
	if got[0].User != "mallory" {
		t.Errorf("refused login of a valid name audited as %q", got[0].User)
	}
	for _, e := range got[1:] {
		if e.User != "" {
			t.Fatalf("huge user name audited (%d bytes)", len(e.User))
		}
	}
	s.App.Close() // flushes the file
	if fi, err := os.Stat(out); err != nil || fi.Size() > n*1024 {
		t.Fatalf("audit file: %v bytes for %d events (%v)", fi.Size(), n+1, err)
	}
}

// auditEventsAs is auditEvents with c's credentials.
func auditEventsAs(t *testing.T, url string, c cred, want int) []auditLine {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := send(t, "GET", url, c.basic(), nil, nil)
		var body struct{ Events []auditLine }
		if err := json.Unmarshal([]byte(res.body), &body); err != nil || res.status != http.StatusOK {
			t.Fatalf("audit API: %d %s", res.status, res.body)
		}
		if len(body.Events) >= want || time.Now().After(deadline) {
			return body.Events
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuditUserBoundIsTheLongestName(t *testing.T) {
	if audit.MaxUser != auth.MaxUserName {
		t.Errorf("audit.MaxUser %d, auth.MaxUserName %d", audit.MaxUser, auth.MaxUserName)
	}
}

// TestAuditPullsAggregate (issue #20): by default successful pulls are
// counted per repository, reference, user, client address and minute and
// written when the minute is over (or at shutdown), while a refused pull
// and the push are written in full at once; with audit.pulls: off only
// the refusal and the push are recorded.
func TestAuditPullsAggregate(t *testing.T) {
	for _, mode := range []string{"aggregate", "off"} {
		t.Run(mode, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "audit.log")
			s := apptest.Start(t, func(c *config.Config) {
				c.Audit.Output = out
				if mode != "aggregate" {
					c.Audit.Pulls = mode
				}
			})
			cfg := []byte("{}")
			cd := digest.FromBytes(cfg)
			do(t, "POST", s.URL+"/v2/team/app/blobs/uploads/?digest="+cd.String(), strings.NewReader(string(cfg)), nil)
			m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cd.String() + `","size":2},"layers":[]}`
			hdr := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
			if resp := do(t, "PUT", s.URL+"/v2/team/app/manifests/v1", strings.NewReader(m), hdr); resp.StatusCode != http.StatusCreated {
				t.Fatalf("push: %d", resp.StatusCode)
			}
			for range 7 {
				do(t, "GET", s.URL+"/v2/team/app/manifests/v1", nil, nil)
			}
			do(t, "GET", s.URL+"/v2/team/app/manifests/missing", nil, nil)
			// The refusal and the push are there at once, the pulls not yet.
			got := auditEvents(t, s.URL+"/api/v1/audit", 2)
			if len(got) != 2 || got[0].Reference != "missing" || got[0].Status != "failure" || got[1].Action != "push" {
				t.Fatalf("events before the minute is over: %+v", got)
			}
			s.App.Close() // writes the aggregates
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var lines []audit.Line
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var line audit.Line
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, line)
			}
			want := 2
			if mode == "aggregate" {
				want = 3
			}
			if len(lines) != want {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), want, b)
			}
			if mode != "aggregate" {
				return
			}
			a := lines[2]
			if a.Action != "pull" || a.Reference != "v1" || a.Requests != 7 || a.Status != "success" || a.RequestID != "" ||
				a.ClientIP != "127.0.0.1" || !strings.HasSuffix(a.Timestamp, ":00Z") {
				t.Fatalf("aggregate: %+v", a)
			}
		})
	}
}

// TestUIAuditAggregate: the API and the audit page show an aggregate of
// pulls as one event with its count.
func TestUIAuditAggregate(t *testing.T) {
	s := startUI(t, func(c *config.Config) { c.Audit.PullWindow = time.Second })
	admin := cred{"admin", adminPassword}
	cfg := []byte("{}")
	cd := digest.FromBytes(cfg)
	send(t, "POST", s.URL+"/v2/team/app/blobs/uploads/?digest="+cd.String(), admin.basic(), cfg, nil)
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cd.String() + `","size":2},"layers":[]}`
	if res := send(t, "PUT", s.URL+"/v2/team/app/manifests/v1", admin.basic(), []byte(m),
		map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}); res.status != http.StatusCreated {
		t.Fatalf("push: %d %s", res.status, res.body)
	}
	// Three pulls inside one window (retried when they straddle two).
	var body string
	for attempt := 0; attempt < 3 && !strings.Contains(body, `"requests":3`); attempt++ {
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
		for range 3 {
			send(t, "GET", s.URL+"/v2/team/app/manifests/v1", admin.basic(), nil, nil)
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			body = api(t, s.URL, admin, "GET", "/api/v1/audit?action=pull", "", 200)
			if strings.Contains(body, `"requests":3`) {
				break
			}
		}
	}
	if !strings.Contains(body, `"requests":3`) || !strings.Contains(body, `"user":"admin"`) {
		t.Fatalf("no aggregate of 3 pulls: %s", body)
	}
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	want(t, "audit page", b.get("/ui/admin/audit?action=pull"), 200, "× 3 (aggregated)")
}
