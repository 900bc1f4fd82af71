package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/syncbuf"
)

func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestAccessLogAndMetrics(t *testing.T) {
	cfg, err := config.Load("", nil, config.Overrides{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	blob := []byte("some layer bytes")
	dgst := digest.FromBytes(blob)
	secret := "Basic c2VjcmV0OnBhc3N3b3Jk"
	resp := do(t, "POST", srv.URL+"/v2/team/app/blobs/uploads/?digest="+dgst.String(), bytes.NewReader(blob),
		map[string]string{"Authorization": secret, "X-Request-Id": "req-123"})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Request-Id") != "req-123" {
		t.Fatalf("push: %d, request id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	do(t, "HEAD", srv.URL+"/v2/team/app/blobs/"+dgst.String(), nil, nil)
	do(t, "GET", srv.URL+"/v2/team/app/blobs/"+dgst.String(), nil, nil)

	if strings.Contains(logs.String(), "c2VjcmV0") {
		t.Fatal("credentials in the log")
	}
	var line map[string]any
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "req-123") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]any{"msg": "request", "method": "POST", "route": "upload_start", "repo": "team/app", "status": float64(201), "bytes_in": float64(len(blob))}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Error("access log has no duration")
	}

	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{
		`berth_http_requests_total{method="POST",route="upload_start",status="201"} 1`,
		`berth_http_requests_total{method="HEAD",route="blob_head",status="200"} 1`,
		`berth_http_request_duration_seconds_bucket{route="blob_get",status="200"`,
		`berth_http_received_bytes_total{route="upload_start"} 16`,
		`berth_http_sent_bytes_total{route="blob_get"} 16`,
		"berth_blobs_stored 1",
		"berth_blob_bytes_stored 16",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestHealth(t *testing.T) {
	s := apptest.Start(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp := do(t, "GET", s.URL+path, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	s.App.Close() // the database is gone: not ready any more
	if resp := do(t, "GET", s.URL+"/readyz", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with a closed database: %d", resp.StatusCode)
	}
}

func TestDeleteDisabled(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.Registry.DeleteEnabled = false })
	resp := do(t, "DELETE", s.URL+"/v2/a/manifests/latest", nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("delete with deletion off: %d", resp.StatusCode)
	}
}

func TestAPIPing(t *testing.T) {
	s := apptest.Start(t, nil)
	resp := do(t, "GET", s.URL+"/api/v1/ping", nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("ping: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestManifestReference: a reference that is neither a valid tag nor a
// digest is 404 MANIFEST_UNKNOWN on reads and deletes (as Distribution and
// zot answer), and 400 on pushes: TAG_INVALID for a tag, DIGEST_INVALID
// for a malformed digest.
func TestManifestReference(t *testing.T) {
	s := apptest.Start(t, nil)
	tests := []struct {
		method, ref string
		status      int
		code        string
	}{
		{"GET", ".INVALID_MANIFEST_NAME", 404, "MANIFEST_UNKNOWN"},
		{"HEAD", ".INVALID_MANIFEST_NAME", 404, ""},
		{"DELETE", ".INVALID_MANIFEST_NAME", 404, "MANIFEST_UNKNOWN"},
		{"GET", "sha256:xyz", 404, "MANIFEST_UNKNOWN"},
		{"DELETE", "md5:d41d8cd98f00b204e9800998ecf8427e", 404, "MANIFEST_UNKNOWN"},
		{"GET", strings.Repeat("t", 129), 404, "MANIFEST_UNKNOWN"},
		{"GET", "no-such-tag", 404, "NAME_UNKNOWN"}, // a valid tag of a repository that does not exist
		{"PUT", ".INVALID_MANIFEST_NAME", 400, "TAG_INVALID"},
		{"PUT", "latest?tag=-bad", 400, "TAG_INVALID"},
		{"PUT", "sha256:xyz", 400, "DIGEST_INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.ref[:min(len(tc.ref), 24)], func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.URL+"/v2/team/app/manifests/"+tc.ref, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || (tc.code != "" && !strings.Contains(string(body), `"code":"`+tc.code+`"`)) {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}
}
