package v2

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

func TestMatch(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		path       string
		kind       Kind
		name, last string
	}{
		{"/v2/", KindBase, "", ""},
		{"/v2", KindBase, "", ""},
		{"/v2/_catalog", KindCatalog, "", ""},
		{"/v2/a/tags/list", KindTags, "a", ""},
		{"/v2/a/b/c/tags/list", KindTags, "a/b/c", ""},
		{"/v2/a/manifests/latest", KindManifest, "a", "latest"},
		{"/v2/x/manifests/y/manifests/" + d, KindManifest, "x/manifests/y", d},
		{"/v2/a/blobs/" + d, KindBlob, "a", d},
		{"/v2/x/blobs/y/blobs/" + d, KindBlob, "x/blobs/y", d},
		{"/v2/a/blobs/uploads/", KindUploads, "a", ""},
		{"/v2/a/blobs/uploads", KindUploads, "a", ""},
		{"/v2/a/b/blobs/uploads/123-abc", KindUpload, "a/b", "123-abc"},
		{"/v2/a/referrers/" + d, KindReferrers, "a", d},
		{"/v2/tags/list", KindNone, "", ""},
		{"/v2/a", KindNone, "", ""},
		{"/v3/a/tags/list", KindNone, "", ""},
		{"/v2/a/unknown/x", KindNone, "", ""},
	}
	for _, tc := range tests {
		kind, name, last := Match(tc.path)
		if kind != tc.kind || name != tc.name || last != tc.last {
			t.Errorf("Match(%q) = %v %q %q, want %v %q %q", tc.path, kind, name, last, tc.kind, tc.name, tc.last)
		}
	}
}

func TestRouterErrors(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(299); return nil }
	rt := NewRouter([]Route{
		{Name: "tags", Kind: KindTags, Method: http.MethodGet, Handle: ok},
		{Name: "base", Kind: KindBase, Method: http.MethodGet, Handle: ok},
	}, nil)
	tests := []struct {
		method, path string
		status       int
		code         oci.Code
	}{
		{"GET", "/v2/", 299, ""},
		{"GET", "/v2/ok/name/tags/list", 299, ""},
		{"GET", "/v2/Upper/tags/list", 400, oci.CodeNameInvalid},
		{"GET", "/v2/a/../b/tags/list", 400, oci.CodeNameInvalid},
		{"DELETE", "/v2/a/tags/list", 405, oci.CodeUnsupported},
		{"GET", "/v2/a/nothing/here", 404, oci.CodeUnsupported},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
		req.URL.Path = tc.path // keep ".." as a client could send it
		rt.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
		if tc.code != "" && !strings.Contains(rec.Body.String(), string(tc.code)) {
			t.Errorf("%s %s: body %s, want code %s", tc.method, tc.path, rec.Body, tc.code)
		}
		if rec.Header().Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Errorf("%s %s: no API version header", tc.method, tc.path)
		}
	}
}

// FuzzMatch: the matcher never panics, and every name the router accepts
// is a valid repository name.
func FuzzMatch(f *testing.F) {
	for _, p := range []string{"/v2/", "/v2/a/b/manifests/latest", "/v2/a/blobs/uploads/x", "/v2/a/../b/tags/list", "/v2//blobs/", "/v2/_catalog"} {
		f.Add(p)
	}
	rt := NewRouter([]Route{{Name: "m", Kind: KindManifest, Method: http.MethodGet}}, nil)
	f.Fuzz(func(t *testing.T, path string) {
		kind, name, _ := Match(path)
		if kind == KindNone {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = path
		m, err := rt.Route(req)
		if err == nil && m.Kind == KindManifest && !oci.ValidName(name) {
			t.Fatalf("router accepted invalid name %q from %q", name, path)
		}
	})
}
