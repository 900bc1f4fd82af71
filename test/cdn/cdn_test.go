// Package cdn runs nginx with the caching set-up of docs/scale-out.md ("A
// caching proxy in front"), read from the document itself, in front of an
// in-process Berth with access control: a public repository's blobs and
// manifests by digest are served from nginx's cache after the first pull,
// a private repository's never are (another user gets Berth's 401/403),
// and tags and HEADs always reach Berth.
//
// nginx is looked up in PATH and /usr/sbin; a missing nginx skips, or
// fails when CI=true.
package cdn

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/freeport"
)

const adminPassword = "admin-secret-1"

// env is Berth behind nginx: pub/app is public, priv/app private (alice
// may pull it, bob may not).
type env struct {
	berth, nginx string // base URLs
	pubBlob      digest.Digest
	privBlob     digest.Digest
	pubManifest  digest.Digest
	blob         []byte // the content of both blobs' layers differs; sizes match
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

var (
	admin = basic("admin", adminPassword)
	alice = basic("alice", "alice-password")
	bob   = basic("bob", "bob-password")
)

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, method, u, authz string, body []byte) result {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if strings.Contains(u, "/manifests/") && method == http.MethodPut {
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	}
	if strings.Contains(u, "/api/") {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

func must(t testing.TB, res result, want int, what string) {
	t.Helper()
	if res.status != want {
		t.Fatalf("%s: %d %s, want %d", what, res.status, res.body, want)
	}
}

// push stores a one-layer image in repo and returns the layer's and the
// manifest's digests.
func push(t testing.TB, base, repo string, layer []byte) (digest.Digest, digest.Digest) {
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	for _, b := range [][]byte{cfg, layer} {
		must(t, do(t, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), admin, b), 201, "push blob")
	}
	m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digest.FromBytes(cfg), len(cfg), digest.FromBytes(layer), len(layer))
	must(t, do(t, "PUT", base+"/v2/"+repo+"/manifests/v1", admin, m), 201, "push manifest")
	return digest.FromBytes(layer), digest.FromBytes(m)
}

// docBlock returns the nginx block of docs/scale-out.md's caching section.
func docBlock(t testing.TB) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "scale-out.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "## A caching proxy in front")
	m := regexp.MustCompile("(?s)```nginx\n(.*?)```").FindStringSubmatch(sec)
	if !ok || m == nil {
		t.Fatal("docs/scale-out.md has no nginx block under \"A caching proxy in front\"")
	}
	return m[1]
}

func nginxBinary(t testing.TB) string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx not found (apt-get install nginx)")
	}
	t.Skip("nginx not found (apt-get install nginx)")
	return ""
}

// start runs Berth and nginx with the documented block in front of it.
func start(t testing.TB, layerSize int) *env {
	bin := nginxBinary(t)
	s := apptest.Start(t, func(c *config.Config) {
		c.Auth.Mode = "builtin"
		c.Auth.BcryptCost = 4
		c.Auth.Admin.Password = adminPassword
		c.Auth.FailedLogins.PerUser = 0
	})
	e := &env{berth: s.URL}
	for _, body := range []string{`{"name":"pub","public":true}`, `{"name":"priv"}`} {
		must(t, do(t, "POST", s.URL+"/api/v1/projects", admin, []byte(body)), 201, "create project")
	}
	for _, u := range []string{"alice", "bob"} {
		must(t, do(t, "POST", s.URL+"/api/v1/users", admin, fmt.Appendf(nil, `{"name":%q,"password":"%s-password"}`, u, u)), 201, "create user")
	}
	must(t, do(t, "PUT", s.URL+"/api/v1/projects/priv/members/user/alice", admin, []byte(`{"role":"guest"}`)), 200, "member")
	e.blob = bytes.Repeat([]byte("public "), layerSize/7+1)[:layerSize]
	e.pubBlob, e.pubManifest = push(t, s.URL, "pub/app", e.blob)
	e.privBlob, _ = push(t, s.URL, "priv/app", append([]byte("P"), e.blob[1:]...))

	dir, err := os.MkdirTemp("", "cdn-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	listen, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	block := strings.NewReplacer("/var/cache/nginx/berth", filepath.Join(dir, "cache"),
		"server 127.0.0.1:5000;", "server "+strings.TrimPrefix(s.URL, "http://")+";",
		"listen 8080;", "listen "+listen+";").Replace(docBlock(t))
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers as nobody could not write the cache
	}
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
%[2]s
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
%[3]s
}
`, dir, user, block)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	e.nginx = "http://" + listen
	for deadline := time.Now().Add(15 * time.Second); ; {
		if resp, err := http.Get(e.nginx + "/v2/"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", out.String(), b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx not answering after 15s")
		}
	}
	return e
}

func TestCacheInFront(t *testing.T) {
	e := start(t, 64<<10)
	pub := e.nginx + "/v2/pub/app/blobs/" + e.pubBlob.String()
	priv := e.nginx + "/v2/priv/app/blobs/" + e.privBlob.String()
	steps := []struct {
		name, method, url, authz string
		status                   int
		cache                    string // X-Cache-Status
		body                     bool   // the blob's bytes (or the private one's) came back
	}{
		{"public blob, first pull", "GET", pub, "", 200, "MISS", true},
		{"public blob, second pull", "GET", pub, "", 200, "HIT", true},
		{"public blob, another user", "GET", pub, bob, 200, "HIT", true},
		{"public blob, HEAD asks Berth", "HEAD", pub, "", 200, "BYPASS", false},
		{"public manifest by digest", "GET", e.nginx + "/v2/pub/app/manifests/" + e.pubManifest.String(), "", 200, "MISS", false},
		{"public manifest by digest again", "GET", e.nginx + "/v2/pub/app/manifests/" + e.pubManifest.String(), "", 200, "HIT", false},
		{"public manifest by tag", "GET", e.nginx + "/v2/pub/app/manifests/v1", "", 200, "", false},
		{"public manifest by tag again", "GET", e.nginx + "/v2/pub/app/manifests/v1", "", 200, "", false},
		{"private blob, member", "GET", priv, alice, 200, "MISS", true},
		{"private blob, member again: not cached", "GET", priv, alice, 200, "MISS", true},
		{"private blob, another user", "GET", priv, bob, 403, "MISS", false},
		{"private blob, anonymous", "GET", priv, "", 401, "MISS", false},
		{"private blob, admin", "GET", priv, admin, 200, "MISS", true},
	}
	for _, st := range steps {
		res := do(t, st.method, st.url, st.authz, nil)
		if res.status != st.status || res.header.Get("X-Cache-Status") != st.cache {
			t.Fatalf("%s: %d, X-Cache-Status %q (Cache-Control %q), want %d %q", st.name, res.status,
				res.header.Get("X-Cache-Status"), res.header.Get("Cache-Control"), st.status, st.cache)
		}
		if st.body && (len(res.body) != len(e.blob) || digest.FromBytes(res.body).String() != st.url[strings.LastIndex(st.url, "/")+1:]) {
			t.Fatalf("%s: %d bytes, not the blob", st.name, len(res.body))
		}
		if !st.body && st.status != 200 && bytes.Contains(res.body, e.blob[1:64]) {
			t.Fatalf("%s: the blob's bytes came back", st.name)
		}
	}
}

// BenchmarkPull pulls one public 1 MiB blob, one request at a time,
// straight from Berth, through nginx when it misses (the private blob, a
// member asking: never cached) and from nginx's cache.
func BenchmarkPull(b *testing.B) {
	e := start(b, 1<<20)
	do(b, "GET", e.nginx+"/v2/pub/app/blobs/"+e.pubBlob.String(), "", nil) // fill the cache
	for _, c := range []struct{ name, url, authz, cache string }{
		{"berth", e.berth + "/v2/pub/app/blobs/" + e.pubBlob.String(), "", ""},
		{"nginx-uncached", e.nginx + "/v2/priv/app/blobs/" + e.privBlob.String(), alice, "MISS"},
		{"nginx-cached", e.nginx + "/v2/pub/app/blobs/" + e.pubBlob.String(), "", "HIT"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(1 << 20)
			for b.Loop() {
				if res := do(b, "GET", c.url, c.authz, nil); res.status != 200 || res.header.Get("X-Cache-Status") != c.cache {
					b.Fatalf("%d %q", res.status, res.header.Get("X-Cache-Status"))
				}
			}
		})
	}
}
