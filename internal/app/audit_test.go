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
	s := apptest.Start(t, func(c *config.Config) { c.Audit.Output = out })
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
