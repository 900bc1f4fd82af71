package proxy

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

func testProxy(t testing.TB) *Proxy {
	t.Helper()
	cfg := config.Proxy{SpoolDir: t.TempDir(), Upstreams: []config.Upstream{
		{Name: "dockerhub", URL: "https://registry-1.docker.io", Project: "dockerhub", Namespaces: []string{"docker.io"}, Mirror: true},
		{Name: "ghcr", URL: "https://ghcr.io", Project: "gh", Namespaces: []string{"ghcr.io"}},
		{Name: "corp", URL: "http://127.0.0.1:5001", Project: "corp"},
	}}
	p, err := New(nil, nil, Options{Config: cfg}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestRoute(t *testing.T) {
	p := testProxy(t)
	for _, tc := range []struct {
		repo, ns string
		want     registry.ProxyRoute
		ok       bool
	}{
		// Proxy projects; Docker Hub's single names get library/.
		{"dockerhub/library/nginx", "", registry.ProxyRoute{Upstream: "dockerhub", Repo: "dockerhub/library/nginx", Remote: "library/nginx"}, true},
		{"dockerhub/nginx", "", registry.ProxyRoute{Upstream: "dockerhub", Repo: "dockerhub/library/nginx", Remote: "library/nginx"}, true},
		{"gh/org/tool", "", registry.ProxyRoute{Upstream: "ghcr", Repo: "gh/org/tool", Remote: "org/tool"}, true},
		{"gh/tool", "", registry.ProxyRoute{Upstream: "ghcr", Repo: "gh/tool", Remote: "tool"}, true},
		// ?ns= selects by namespace, whatever the name.
		{"library/nginx", "docker.io", registry.ProxyRoute{Upstream: "dockerhub", Repo: "dockerhub/library/nginx", Remote: "library/nginx"}, true},
		{"org/tool", "ghcr.io", registry.ProxyRoute{Upstream: "ghcr", Repo: "gh/org/tool", Remote: "org/tool"}, true},
		{"gh/org/tool", "ghcr.io", registry.ProxyRoute{Upstream: "ghcr", Repo: "gh/gh/org/tool", Remote: "gh/org/tool"}, true},
		// A namespace nobody serves: not proxied (not even by the mirror).
		{"library/nginx", "quay.io", registry.ProxyRoute{}, false},
		// Mirror mode: everything else, as a fallback.
		{"library/nginx", "", registry.ProxyRoute{Upstream: "dockerhub", Repo: "dockerhub/library/nginx", Remote: "library/nginx", Fallback: true}, true},
		{"nginx", "", registry.ProxyRoute{Upstream: "dockerhub", Repo: "dockerhub/library/nginx", Remote: "library/nginx", Fallback: true}, true},
		{"corp", "", registry.ProxyRoute{Upstream: "dockerhub", Repo: "dockerhub/library/corp", Remote: "library/corp", Fallback: true}, true},
		{"corp/app", "", registry.ProxyRoute{Upstream: "corp", Repo: "corp/app", Remote: "app"}, true},
	} {
		got, ok := p.Route(tc.repo, tc.ns)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Route(%q, %q) = %+v, %v; want %+v, %v", tc.repo, tc.ns, got, ok, tc.want, tc.ok)
		}
	}
	if !p.ServesNamespace("docker.io") || p.ServesNamespace("quay.io") {
		t.Error("ServesNamespace")
	}
}

func TestRouteWithoutMirror(t *testing.T) {
	p, err := New(nil, nil, Options{Config: config.Proxy{SpoolDir: t.TempDir(), Upstreams: []config.Upstream{
		{Name: "corp", URL: "http://127.0.0.1:5001", Project: "corp"},
	}}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r, ok := p.Route("library/nginx", ""); ok {
		t.Fatalf("no mirror, yet %+v", r)
	}
	empty, _ := New(nil, nil, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, ok := empty.Route("corp/app", ""); ok || empty.Enabled() {
		t.Fatal("a proxy without upstreams routes")
	}
}

// FuzzRoute: any name and namespace routes without panicking, into the
// upstream's project, and a valid name stays a valid name.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"dockerhub/library/nginx", "nginx", "gh/a/b", "corp", "a/b/c/d", "dockerhub/", "/x", ""} {
		f.Add(s, "")
		f.Add(s, "docker.io")
	}
	p := testProxy(f)
	f.Fuzz(func(t *testing.T, repo, ns string) {
		r, ok := p.Route(repo, ns)
		if !ok {
			return
		}
		u := p.byName[r.Upstream]
		if u == nil || !strings.HasPrefix(r.Repo, u.cfg.Project+"/") || !strings.HasSuffix(r.Repo, "/"+r.Remote) {
			t.Fatalf("Route(%q, %q) = %+v", repo, ns, r)
		}
		if oci.ValidName(repo) && len(r.Repo) <= oci.MaxNameLength && !oci.ValidName(r.Repo) {
			t.Fatalf("valid %q routed to invalid %q", repo, r.Repo)
		}
	})
}
