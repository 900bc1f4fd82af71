package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/internal/config"
)

// errorBody is an OCI error response.
type errorBody struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decodeError(t *testing.T, body []byte) (string, string) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q (%v)", body, err)
	}
	return e.Errors[0].Code, e.Errors[0].Message
}

// TestUpstreamDown: after a first pull the upstream (Distribution with
// htpasswd auth) stops; the image still pulls (by tag: stale, with a
// Warning; by digest: as always), a never-pulled image fails naming the
// upstream's problem. A 429 upstream is reported as such.
func TestUpstreamDown(t *testing.T) {
	dist := startDistribution(t)
	img1, _ := random.Image(4096, 2)
	img2, _ := random.Image(4096, 2)
	d1 := push(t, dist, "library/web:v1", img1)
	push(t, dist, "library/web:v2", img2)
	srv := startProxy(t, []proxyUpstream{{name: "hub", up: dist, ttl: time.Nanosecond}}, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newClients(t, "", "")
	c.must("crane", "pull", "--insecure", "--format", "oci", host+"/hub/library/web:v1", filepath.Join(c.dir, "first"))

	dist.stop()
	// By tag: the TTL has passed, the check fails, the cached copy is served.
	c.must("crane", "pull", "--insecure", "--format", "oci", host+"/hub/library/web:v1", filepath.Join(c.dir, "again"))
	status, hdr, body := get(t, srv.URL+"/v2/hub/library/web/manifests/v1", "Accept", manifestAccept)
	if status != http.StatusOK || sha256hex(body) != d1 {
		t.Fatalf("stale pull: %d, digest %s, want %s", status, sha256hex(body), d1)
	}
	if w := hdr.Get("Warning"); !strings.HasPrefix(w, `299 - "upstream hub is unavailable`) {
		t.Fatalf("stale tag without a Warning: %q", w)
	}
	// By digest: from the cache, no warning.
	if d := strings.TrimSpace(c.must("crane", "digest", "--insecure", host+"/hub/library/web@"+d1)); d != d1 {
		t.Fatalf("pull by digest while down: %s", d)
	}
	// Never pulled: a clear error naming the upstream.
	status, _, body = get(t, srv.URL+"/v2/hub/library/web/manifests/v2", "Accept", manifestAccept)
	code, msg := decodeError(t, body)
	if status != http.StatusNotFound || code != "MANIFEST_UNKNOWN" || !strings.Contains(msg, "upstream hub answered 502") {
		t.Fatalf("never-pulled tag while down: %d %s %q", status, code, msg)
	}
	// skopeo, which does not retry, shows the message as it is.
	sout, errOut, err := c.exec("skopeo", "inspect", "--tls-verify=false", "docker://"+host+"/hub/library/web:v2")
	if err == nil || !strings.Contains(errOut, "upstream hub") {
		t.Fatalf("skopeo inspect of a never-pulled image while down: %v\nstdout: %s\nstderr: %s", err, sout, errOut)
	}
	t.Logf("skopeo says: %s", strings.TrimSpace(errOut))

	// Connections refused outright (the front gone too), and 429.
	dist.front.down.Store(true)
	if status, _, _ := get(t, srv.URL+"/v2/hub/library/web/manifests/v1", "Accept", manifestAccept); status != http.StatusOK {
		t.Fatalf("stale pull with connections closed: %d", status)
	}
	dist.front.down.Store(false)
	dist.front.status.Store(http.StatusTooManyRequests)
	status, _, body = get(t, srv.URL+"/v2/hub/library/other/manifests/v1", "Accept", manifestAccept)
	if code, msg := decodeError(t, body); status != http.StatusTooManyRequests || code != "TOOMANYREQUESTS" || !strings.Contains(msg, "upstream hub answered 429") {
		t.Fatalf("429 upstream: %d %s %q", status, code, msg)
	}
	if status, _, _ := get(t, srv.URL+"/v2/hub/library/web/manifests/v1", "Accept", manifestAccept); status != http.StatusOK {
		t.Fatalf("stale pull while rate limited: %d", status)
	}
}

// TestTagTTL: a tag moved upstream is seen after the TTL and not before;
// within the TTL the upstream is not asked at all, after it one HEAD.
func TestTagTTL(t *testing.T) {
	up := startBerthUpstream(t)
	img1, _ := random.Image(1024, 1)
	img2, _ := random.Image(1024, 1)
	d1 := push(t, up, "team/app:stable", img1)
	const ttl = 2 * time.Second
	srv := startProxy(t, []proxyUpstream{{name: "corp", up: up, ttl: ttl}}, nil)
	url := srv.URL + "/v2/corp/team/app/manifests/stable"
	pull := func() string {
		t.Helper()
		status, _, body := get(t, url, "Accept", manifestAccept)
		if status != http.StatusOK {
			t.Fatalf("pull: %d %s", status, body)
		}
		return sha256hex(body)
	}
	start := time.Now()
	if d := pull(); d != d1 {
		t.Fatalf("first pull %s, want %s", d, d1)
	}
	d2 := push(t, up, "team/app:stable", img2)
	up.resetCounts()
	if d := pull(); d != d1 && time.Since(start) < ttl {
		t.Fatalf("the moved tag was seen within the TTL: %s", d)
	}
	if n := up.count("HEAD", "/manifests/stable") + up.count("GET", "/manifests/stable"); n != 0 && time.Since(start) < ttl {
		t.Fatalf("the upstream was asked %d times within the TTL", n)
	}
	time.Sleep(time.Until(start.Add(ttl + 100*time.Millisecond)))
	if d := pull(); d != d2 {
		t.Fatalf("after the TTL: %s, want the moved tag's %s", d, d2)
	}
	if n := up.count("HEAD", "/manifests/stable"); n != 1 {
		t.Fatalf("%d HEADs after the TTL, want 1", n)
	}
	if d := pull(); d != d2 {
		t.Fatalf("again: %s", d)
	}
	// The old manifest stays pullable by digest from the cache.
	if status, _, body := get(t, srv.URL+"/v2/corp/team/app/manifests/"+d1, "Accept", manifestAccept); status != http.StatusOK || sha256hex(body) != d1 {
		t.Fatalf("old manifest by digest: %d", status)
	}
}

// TestIndexPlatform: from a multi-platform index only the platform the
// client asks for is fetched; the other one when someone asks for it.
func TestIndexPlatform(t *testing.T) {
	up := startBerthUpstream(t)
	amd, _ := random.Image(2048, 1)
	arm, _ := random.Image(2048, 1)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	push(t, up, "multi/tool:1", idx)
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()
	armLayers, _ := arm.Layers()
	armLayer, _ := armLayers[0].Digest()
	amdLayers, _ := amd.Layers()
	amdLayer, _ := amdLayers[0].Digest()
	srv := startProxy(t, []proxyUpstream{{name: "corp", up: up}}, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newClients(t, "", "")
	up.resetCounts()
	c.must("crane", "pull", "--insecure", "--platform", "linux/arm64", "--format", "oci", host+"/corp/multi/tool:1", filepath.Join(c.dir, "arm"))
	for _, tc := range []struct {
		what string
		n    int
		want int
	}{
		{"arm64 manifest", up.count("GET", "/manifests/"+armDigest.String()), 1},
		{"arm64 layer", up.count("GET", "/blobs/"+armLayer.String()), 1},
		{"amd64 manifest", up.count("GET", "/manifests/"+amdDigest.String()), 0},
		{"amd64 layer", up.count("GET", "/blobs/"+amdLayer.String()), 0},
	} {
		if tc.n != tc.want {
			t.Errorf("%s fetched %d times, want %d", tc.what, tc.n, tc.want)
		}
	}
	c.must("crane", "pull", "--insecure", "--platform", "linux/amd64", "--format", "oci", host+"/corp/multi/tool:1", filepath.Join(c.dir, "amd"))
	if n := up.count("GET", "/blobs/"+amdLayer.String()); n != 1 {
		t.Errorf("amd64 layer fetched %d times once asked for, want 1", n)
	}
}

// TestEviction: over the size limit the least recently pulled image goes
// (its blobs unlinked, fetched again when pulled); an age limit evicts
// what was not pulled for that long; the API and metrics report it.
func TestEviction(t *testing.T) {
	up := startBerthUpstream(t)
	var digests []string
	for _, tag := range []string{"a", "b", "c"} {
		img, _ := random.Image(512<<10, 1)
		digests = append(digests, push(t, up, "lru/img:"+tag, img))
	}
	srv := startProxy(t, []proxyUpstream{{name: "corp", up: up, cacheSize: 1200 << 10}}, func(c *config.Config) {
		c.Proxy.InUseGrace = time.Millisecond
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newClients(t, "", "")
	for _, tag := range []string{"a", "b", "c"} {
		c.must("crane", "pull", "--insecure", "--format", "oci", host+"/corp/lru/img:"+tag, filepath.Join(c.dir, tag))
		time.Sleep(5 * time.Millisecond)
	}
	p := srv.App.Proxy()
	time.Sleep(5 * time.Millisecond)
	p.EnforceLimits(context.Background())
	list := upstreams(t, srv.URL)
	if len(list) != 1 || list[0].CacheBytes > 1200<<10 || list[0].Evicted != 1 {
		t.Fatalf("after enforcing the limit: %+v", list)
	}
	// a, pulled first, went; b and c stay.
	up.resetCounts()
	for i, tag := range []string{"b", "c"} {
		if status, _, _ := get(t, srv.URL+"/v2/corp/lru/img/manifests/"+digests[i+1], "Accept", manifestAccept); status != http.StatusOK {
			t.Fatalf("%s: %d", tag, status)
		}
	}
	if n := up.count("GET", "/manifests/"+digests[1]) + up.count("GET", "/manifests/"+digests[2]); n != 0 {
		t.Fatalf("b or c was evicted: %d upstream GETs", n)
	}
	c.must("crane", "pull", "--insecure", "--format", "oci", host+"/corp/lru/img:a", filepath.Join(c.dir, "a-again"))
	if n := up.count("GET", "/manifests/a"); n != 1 {
		t.Fatalf("a pulled again after its eviction: %d manifest GETs upstream, want 1", n)
	}

	// The age limit: nothing was pulled within max_age.
	srv2 := startProxy(t, []proxyUpstream{{name: "corp", up: up, maxAge: 20 * time.Millisecond}}, func(c *config.Config) {
		c.Proxy.InUseGrace = time.Millisecond
	})
	c.must("crane", "pull", "--insecure", "--format", "oci", strings.TrimPrefix(srv2.URL, "http://")+"/corp/lru/img:b", filepath.Join(c.dir, "b2"))
	time.Sleep(50 * time.Millisecond)
	srv2.App.Proxy().EnforceLimits(context.Background())
	if list := upstreams(t, srv2.URL); list[0].CacheBytes != 0 || list[0].Evicted != 1 {
		t.Fatalf("after the age limit: %+v", list)
	}
	if status, _, body := get(t, srv2.URL+"/v2/_catalog"); status != http.StatusOK || strings.Contains(string(body), "corp/") {
		t.Fatalf("the evicted repository is still listed: %s", body)
	}
	// Metrics.
	_, _, metrics := get(t, srv.URL+"/metrics")
	for _, want := range []string{`berth_proxy_pulls_total{kind="manifest",result="miss",upstream="corp"}`, `berth_proxy_evicted_manifests_total{upstream="corp"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

type upstreamStatus struct {
	Name         string `json:"name"`
	CacheBytes   int64  `json:"cache_bytes"`
	Evicted      int64  `json:"evicted_manifests"`
	Pulls        int64  `json:"pulls"`
	BlobFetches  int64  `json:"blob_fetches"`
	BlobMisses   int64  `json:"blob_misses"`
	ManifestHits int64  `json:"manifest_hits"`
}

func upstreams(t *testing.T, base string) []upstreamStatus {
	t.Helper()
	status, _, body := get(t, base+"/api/v1/proxy/upstreams")
	if status != http.StatusOK {
		t.Fatalf("GET /api/v1/proxy/upstreams: %d %s", status, body)
	}
	var out struct {
		Upstreams []upstreamStatus `json:"upstreams"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Upstreams
}
