package harbor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/scan"
)

// fakeAdapter is a scanner adapter served by the test: it checks what
// the client sends and answers the report with 302 and Refresh-After
// until polled enough times.
type fakeAdapter struct {
	t        *testing.T
	pending  int32 // 302s before the report
	polls    atomic.Int32
	scanCode int
	refresh  string // Refresh-After of the 302s
	got      ScanRequest
}

func (f *fakeAdapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer adapter-key" {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/metadata":
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.metadata+json; version=1.0")
		w.Write([]byte(`{"scanner":{"name":"Trivy","vendor":"Aqua Security","version":"0.50.0"},"capabilities":[{"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],"produces_mime_types":["` + MediaTypeReport + `"]}]}`))
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/scan":
		if r.Header.Get("Content-Type") != MediaTypeScanRequest {
			http.Error(w, "type", http.StatusBadRequest)
			return
		}
		if f.scanCode != 0 {
			w.WriteHeader(f.scanCode)
			w.Write([]byte(`{"error":{"message":"registry unreachable"}}`))
			return
		}
		json.NewDecoder(r.Body).Decode(&f.got)
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"id":"scan-1"}`))
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/scan/scan-1/report":
		if r.Header.Get("Accept") != MediaTypeReport {
			http.Error(w, "accept", http.StatusNotAcceptable)
			return
		}
		if f.polls.Add(1) <= f.pending {
			w.Header().Set("Refresh-After", f.refresh)
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", MediaTypeReport)
		w.Write([]byte(`{"generated_at":"2026-12-07T03:00:00Z","scanner":{"name":"Trivy","vendor":"Aqua Security","version":"0.50.0"},"severity":"High",
		 "vulnerabilities":[{"id":"CVE-2","package":"zlib","version":"1.2","fix_version":"1.3","severity":"Medium","cve3_score":"5.5"},
		  {"id":"CVE-1","package":"openssl","version":"3.0.1","fix_version":"3.0.2","severity":"High","preferred_cvss":{"score_v3":8.1,"vector_v3":"CVSS:3.1/AV:N"}},
		  {"id":"CVE-3","package":"bash","version":"5","severity":"Negligible"}]}`))
	default:
		http.NotFound(w, r)
	}
}

func TestClient(t *testing.T) {
	f := &fakeAdapter{t: t, pending: 2, refresh: "0"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := New(srv.URL, "Bearer adapter-key", nil)
	ctx := context.Background()

	m, err := c.Metadata(ctx)
	if err != nil || m.Scanner.Name != "Trivy" || len(m.Capabilities) != 1 {
		t.Fatalf("Metadata = %+v, %v", m, err)
	}
	var req ScanRequest
	req.Registry.URL, req.Registry.Authorization = "http://127.0.0.1:5000", "Bearer pull-token"
	req.Artifact.Repository, req.Artifact.Digest, req.Artifact.MimeType = "team/app", "sha256:abc", "application/vnd.oci.image.manifest.v1+json"
	id, err := c.Scan(ctx, req)
	if err != nil || id != "scan-1" || f.got != req {
		t.Fatalf("Scan = %q, %v; adapter got %+v", id, err, f.got)
	}
	r, err := c.Report(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if f.polls.Load() != 3 {
		t.Errorf("report polled %d times, want 3 (two 302s)", f.polls.Load())
	}
	got := Findings(r)
	want := []struct {
		id   string
		sev  scan.Severity
		cvss float64
	}{{"CVE-1", scan.SeverityHigh, 8.1}, {"CVE-2", scan.SeverityMedium, 5.5}, {"CVE-3", scan.SeverityLow, 0}}
	if len(got) != len(want) {
		t.Fatalf("findings = %+v", got)
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].Severity != w.sev || got[i].CVSSScore != w.cvss {
			t.Errorf("finding %d = %+v, want %+v", i, got[i], w)
		}
	}
	if got[0].Fixed != "3.0.2" || got[0].CVSSVector != "CVSS:3.1/AV:N" {
		t.Errorf("worst finding = %+v", got[0])
	}
}

func TestClientErrors(t *testing.T) {
	f := &fakeAdapter{t: t, scanCode: http.StatusInternalServerError, pending: 1 << 30, refresh: "1"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := New(srv.URL, "Bearer adapter-key", nil)
	ctx := context.Background()
	if _, err := c.Scan(ctx, ScanRequest{}); !errors.Is(err, ErrAdapter) || err.Error() != "harbor scanner: adapter error: 500: registry unreachable" {
		t.Errorf("Scan of a failing adapter: %v", err)
	}
	if _, err := c.Report(ctx, "nope"); !errors.Is(err, ErrUnknownScan) {
		t.Errorf("Report of an unknown id: %v, want ErrUnknownScan", err)
	}
	if _, err := New(srv.URL, "Bearer wrong", nil).Metadata(ctx); !errors.Is(err, ErrAdapter) {
		t.Errorf("Metadata with a wrong key: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.Report(tctx, "scan-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Report that never finishes: %v, want the deadline", err)
	}
}
