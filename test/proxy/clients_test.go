package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/berth-registry/berth/internal/testproc"
)

// clients runs client tools with configuration isolated in the test's
// directories (nothing read from ~/.docker or ~/.config/containers).
type clients struct {
	t   *testing.T
	dir string
	env []string
	run string // podman's short runroot
}

func newClients(t *testing.T, mirrorFor, mirror string) *clients {
	t.Helper()
	dir := t.TempDir()
	c := &clients{t: t, dir: dir}
	write := func(rel, data string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run, err := os.MkdirTemp("", "proxy-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	c.run = run
	registries := "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n"
	if mirror != "" {
		// podman's mirror for a registry: it asks the mirror for
		// /v2/<name>/... exactly as a Docker daemon's registry-mirrors does.
		registries += fmt.Sprintf("\n[[registry]]\nprefix = %q\nlocation = %q\n\n[[registry.mirror]]\nlocation = %q\ninsecure = true\n",
			mirrorFor, mirrorFor, mirror)
	}
	overrides := map[string]string{
		"HOME":                       filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME":            filepath.Join(dir, "home", ".config"),
		"XDG_DATA_HOME":              filepath.Join(dir, "home", ".local"),
		"XDG_CACHE_HOME":             filepath.Join(dir, "home", ".cache"),
		"DOCKER_CONFIG":              filepath.Dir(write("docker/config.json", `{"auths":{}}`)),
		"REGISTRY_AUTH_FILE":         write("containers/auth.json", `{"auths":{}}`),
		"CONTAINERS_REGISTRIES_CONF": write("containers/registries.conf", registries),
		"CONTAINERS_STORAGE_CONF": write("containers/storage.conf", fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n",
			filepath.Join(run, "default"), filepath.Join(dir, "storage"))),
		"CONTAINERS_POLICY": write("containers/policy.json", `{"default":[{"type":"insecureAcceptAnything"}]}`),
		"TMPDIR":            filepath.Join(dir, "tmp"),
	}
	os.MkdirAll(overrides["TMPDIR"], 0o755)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_HOST", "CONTAINER_HOST", "XDG_RUNTIME_DIR", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy":
			continue
		}
		if _, ok := overrides[k]; !ok {
			c.env = append(c.env, kv)
		}
	}
	for k, v := range overrides {
		c.env = append(c.env, k+"="+v)
	}
	c.env = append(c.env, "NO_PROXY=*", "no_proxy=*")
	return c
}

// exec runs a tool and returns stdout, stderr and its error.
func (c *clients) exec(name string, args ...string) (string, string, error) {
	c.t.Helper()
	path := testproc.Need(c.t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env, cmd.Dir = c.env, c.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	c.t.Logf("$ %s %s  (%.1fs)", name, strings.Join(args, " "), time.Since(start).Seconds())
	return out.String(), errb.String(), err
}

func (c *clients) must(name string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.exec(name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func (c *clients) podman(args ...string) string {
	c.t.Helper()
	global := []string{"--storage-driver", "vfs", "--root", filepath.Join(c.dir, "storage"), "--runroot", filepath.Join(c.run, "p"),
		"--tmpdir", filepath.Join(c.dir, "tmp"), "--events-backend", "none", "--cgroup-manager", "cgroupfs"}
	return c.must("podman", append(global, args...)...)
}

// nsShim is what containerd's hosts.toml mirror does: every request to the
// mirror names the source registry in ?ns=.
func nsShim(t *testing.T, target, ns string) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	inner := rp.Director
	rp.Director = func(r *http.Request) {
		inner(r)
		if r.URL.Path != "/v2/" {
			q := r.URL.Query()
			q.Set("ns", ns)
			r.URL.RawQuery = q.Encode()
		}
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

// TestClients: skopeo, crane and podman pull through a project prefix,
// mirror mode and ?ns=, from an anonymous Berth and from Distribution
// with htpasswd auth; digests are the upstream's.
func TestClients(t *testing.T) {
	berthUp := startBerthUpstream(t)
	dist := startDistribution(t)
	imgA, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	imgB, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	digestA := push(t, berthUp, "team/app:v1", imgA)
	digestB := push(t, dist, "library/busy:v1", imgB)

	srv := startProxy(t, []proxyUpstream{
		{name: "corp", up: berthUp, namespaces: []string{"registry.corp.test"}},
		{name: "hub", up: dist, namespaces: []string{"docker.io"}, mirror: true},
	}, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newClients(t, "docker.io", host)

	t.Run("crane/project", func(t *testing.T) {
		c := *c
		c.t = t
		if d := strings.TrimSpace(c.must("crane", "digest", "--insecure", host+"/corp/team/app:v1")); d != digestA {
			t.Fatalf("digest through the project = %s, upstream has %s", d, digestA)
		}
		out := filepath.Join(c.dir, "crane-oci")
		c.must("crane", "pull", "--insecure", "--format", "oci", host+"/hub/library/busy:v1", out)
		if d := strings.TrimSpace(c.must("crane", "digest", "--insecure", host+"/hub/library/busy:v1")); d != digestB {
			t.Fatalf("digest from Distribution through the project = %s, want %s", d, digestB)
		}
	})
	t.Run("skopeo/project", func(t *testing.T) {
		c := *c
		c.t = t
		c.must("skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
			"docker://"+host+"/corp/team/app:v1", "oci:"+filepath.Join(c.dir, "skopeo-oci")+":v1")
		raw := c.must("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+host+"/corp/team/app:v1")
		if d := sha256hex([]byte(raw)); d != digestA {
			t.Fatalf("skopeo: manifest digest %s, want %s", d, digestA)
		}
	})
	t.Run("podman/mirror", func(t *testing.T) {
		c := *c
		c.t = t
		before := dist.count("GET", "/manifests/v1")
		c.podman("pull", "docker.io/library/busy:v1")
		if got := c.podman("image", "inspect", "--format", "{{.Digest}}", "docker.io/library/busy:v1"); strings.TrimSpace(got) != digestB {
			t.Fatalf("podman through the mirror: digest %q, want %s", got, digestB)
		}
		// The project cache was warm: mirror mode shares it.
		if after := dist.count("GET", "/manifests/v1"); after != before {
			t.Errorf("the mirror fetched the tag again (%d -> %d GETs): the cache is not shared", before, after)
		}
	})
	t.Run("crane/mirror", func(t *testing.T) {
		c := *c
		c.t = t
		if d := strings.TrimSpace(c.must("crane", "digest", "--insecure", host+"/library/busy:v1")); d != digestB {
			t.Fatalf("mirror mode digest %s, want %s", d, digestB)
		}
	})
	t.Run("ns", func(t *testing.T) {
		c := *c
		c.t = t
		shim := nsShim(t, srv.URL, "registry.corp.test")
		shimHost := strings.TrimPrefix(shim.URL, "http://")
		if d := strings.TrimSpace(c.must("crane", "digest", "--insecure", shimHost+"/team/app:v1")); d != digestA {
			t.Fatalf("crane with ?ns=: digest %s, want %s", d, digestA)
		}
		c.must("skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
			"docker://"+shimHost+"/team/app:v1", "oci:"+filepath.Join(c.dir, "skopeo-ns")+":v1")
		hub := nsShim(t, srv.URL, "docker.io")
		c.must("crane", "pull", "--insecure", "--format", "oci", strings.TrimPrefix(hub.URL, "http://")+"/library/busy:v1", filepath.Join(c.dir, "crane-ns"))
		status, hdr, _ := get(t, srv.URL+"/v2/team/app/manifests/v1?ns=registry.corp.test", "Accept", manifestAccept)
		if status != http.StatusOK || hdr.Get("OCI-Namespace") != "registry.corp.test" {
			t.Fatalf("GET with ?ns=: %d, OCI-Namespace %q", status, hdr.Get("OCI-Namespace"))
		}
		// A namespace no upstream serves is not proxied.
		if status, _, _ := get(t, srv.URL+"/v2/team/app/manifests/v1?ns=elsewhere.test"); status != http.StatusNotFound {
			t.Fatalf("GET with an unknown ?ns=: %d, want 404", status)
		}
	})
	t.Run("local names win", func(t *testing.T) {
		c := *c
		c.t = t
		local, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		localDigest := push(t, &upstream{front: &front{srv: srv.Server}}, "library/busy:v1", local)
		if d := strings.TrimSpace(c.must("crane", "digest", "--insecure", host+"/library/busy:v1")); d != localDigest {
			t.Fatalf("a local repository is served locally: got %s, want %s", d, localDigest)
		}
		if d := strings.TrimSpace(c.must("crane", "digest", "--insecure", host+"/hub/library/busy:v1")); d != digestB {
			t.Fatalf("the project still serves the upstream's: %s", d)
		}
		// Pushes to a proxy project are refused.
		_, errOut, err := c.exec("crane", "push", "--insecure", filepath.Join(c.dir, "crane-oci"), host+"/hub/library/mine:v1")
		if err == nil || !strings.Contains(errOut, "DENIED") {
			t.Fatalf("push into the proxy project: %v\n%s", err, errOut)
		}
	})
}
