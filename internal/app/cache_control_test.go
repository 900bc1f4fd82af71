package app_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// cachedImage pushes a one-layer image to repo as authz (Basic) and
// returns its layer and manifest digests.
func cachedImage(t *testing.T, base, repo, authz string) (layer, manifest digest.Digest) {
	t.Helper()
	cfg, l := []byte(`{"architecture":"amd64","os":"linux"}`), []byte("layer of "+repo)
	for _, b := range [][]byte{cfg, l} {
		if res := send(t, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), authz, b, nil); res.status != 201 {
			t.Fatalf("push blob: %d %s", res.status, res.body)
		}
	}
	body := imageManifest(digest.FromBytes(cfg), int64(len(cfg)), digest.FromBytes(l), int64(len(l)), "")
	if res := send(t, "PUT", base+"/v2/"+repo+"/manifests/v1", authz, body,
		map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}); res.status != 201 {
		t.Fatalf("push manifest: %d %s", res.status, res.body)
	}
	return digest.FromBytes(l), digest.FromBytes(body)
}

// TestCacheControl (issue #20): blobs and manifests by digest are
// immutable, for shared caches when anyone may pull them (public, or no
// access control), for the client's own cache only otherwise; manifests
// by tag are never cached. GET, HEAD and 304 answers carry the same.
func TestCacheControl(t *testing.T) {
	const (
		public  = "public, max-age=31536000, immutable"
		private = "private, max-age=31536000, immutable"
	)
	type check struct {
		who, authz, path, want string
	}
	var checks []check
	add := func(who, authz, repo string, layer, manifest digest.Digest, immutable string) {
		checks = append(checks,
			check{who, authz, "/v2/" + repo + "/blobs/" + layer.String(), immutable},
			check{who, authz, "/v2/" + repo + "/manifests/" + manifest.String(), immutable},
			check{who, authz, "/v2/" + repo + "/manifests/v1", "no-cache"},
			check{who, authz, "/v2/" + repo + "/manifests/absent", ""},                              // errors: no header
			check{who, authz, "/v2/" + repo + "/blobs/" + digest.FromString("absent").String(), ""}, // idem
		)
	}
	// Without access control anyone may pull everything.
	plain := apptest.Start(t, nil).URL
	l, m := cachedImage(t, plain, "any/app", "")
	add("no access control", "", "any/app", l, m, public)
	// With it, the project decides, whoever asks.
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"pub","public":true}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"priv"}`, 201)
	pl, pm := cachedImage(t, s.URL, "pub/app", admin.basic())
	ql, qm := cachedImage(t, s.URL, "priv/app", admin.basic())
	add("anonymous, public", "", "pub/app", pl, pm, public)
	add("admin, public", admin.basic(), "pub/app", pl, pm, public)
	add("admin, private", admin.basic(), "priv/app", ql, qm, private)
	for _, c := range checks {
		base := s.URL
		if c.who == "no access control" {
			base = plain
		}
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(fmt.Sprintf("%s %s %s", c.who, method, c.path), func(t *testing.T) {
				res := send(t, method, base+c.path, c.authz, nil, nil)
				if got := res.header.Get("Cache-Control"); got != c.want {
					t.Fatalf("%d, Cache-Control %q, want %q", res.status, got, c.want)
				}
				if c.want == "" || method == "HEAD" {
					return
				}
				// A revalidation answered 304 says the same.
				res = send(t, method, base+c.path, c.authz, nil, map[string]string{"If-None-Match": res.header.Get("ETag")})
				if res.status != http.StatusNotModified || res.header.Get("Cache-Control") != c.want {
					t.Fatalf("revalidation: %d, Cache-Control %q, want 304 %q", res.status, res.header.Get("Cache-Control"), c.want)
				}
			})
		}
	}
	// A project made private is private from the next response on.
	api(t, s.URL, admin, "PATCH", "/api/v1/projects/pub", `{"public":false}`, 200)
	if got := send(t, "GET", s.URL+"/v2/pub/app/blobs/"+pl.String(), admin.basic(), nil, nil).header.Get("Cache-Control"); got != private {
		t.Fatalf("after the project went private: %q", got)
	}
}
