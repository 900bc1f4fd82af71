// Package proxy tests Berth's pull-through cache end to end: real
// upstream registries on loopback (an in-process Berth, and CNCF
// Distribution 2.8 with htpasswd auth), a Berth proxying them, and real
// clients (skopeo, crane, podman) pulling through project prefixes,
// mirror mode and ?ns=. A front proxy before each upstream counts the
// requests it serves and injects faults.
//
// Environment: PROXY_LARGE_MIB sizes the concurrent-pull image (256);
// CI=true makes a missing tool fail instead of skip.
package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/syncbuf"
	"github.com/berth-registry/berth/internal/testproc"
)

func TestMain(m *testing.M) {
	testproc.ToolsOnPATH() // pinned Go tools; without a go.mod, PATH alone
	os.Exit(m.Run())
}

// upstream is a registry the proxy pulls from, behind a front proxy.
type upstream struct {
	*front
	user, pass string // empty: anonymous
	// stop stops the registry itself (not the front).
	stop func()
}

// keychain returns the credentials for pushing test images.
func (u *upstream) auth() authn.Authenticator {
	if u.user == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: u.user, Password: u.pass}
}

// startBerthUpstream runs an in-process Berth as an upstream.
func startBerthUpstream(t *testing.T) *upstream {
	t.Helper()
	srv := apptest.Start(t, nil)
	f := startFront(t, srv.URL)
	return &upstream{front: f, stop: srv.Close}
}

// startDistribution runs CNCF Distribution 2.8 with htpasswd auth.
func startDistribution(t *testing.T) *upstream {
	t.Helper()
	bin := "/usr/bin/docker-registry"
	if _, err := os.Stat(bin); err != nil {
		testproc.Need(t, "docker-registry")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("puller:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
auth:
  htpasswd:
    realm: test
    path: %s
http:
  addr: %s
`, filepath.Join(dir, "data"), htpasswd, addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Env = withoutEnv(os.Environ(), "AWS_CA_BUNDLE")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("distribution output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("distribution did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	f := startFront(t, "http://"+addr)
	return &upstream{front: f, user: "puller", pass: "s3cret", stop: stop}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// front is a reverse proxy before an upstream registry: it counts the
// requests it forwards and can fail them.
type front struct {
	srv *httptest.Server
	rp  *httputil.ReverseProxy

	mu     sync.Mutex
	counts map[string]int // "GET /v2/<name>/blobs/<digest>" -> requests

	down     atomic.Bool  // close every connection at once
	status   atomic.Int32 // answer every request with this status
	cutAfter atomic.Int64 // cut the next GET of cutPath after this many bytes (0: off)
	cutPath  atomic.Value // string: suffix of the path to cut
}

func startFront(t *testing.T, target string) *front {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &front{counts: map[string]int{}}
	f.rp = httputil.NewSingleHostReverseProxy(u)
	f.rp.FlushInterval = -1
	f.rp.ErrorLog = slog.NewLogLogger(slog.New(slog.NewTextHandler(io.Discard, nil)).Handler(), slog.LevelError)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Host is host:port of the front.
func (f *front) Host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *front) serve(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.counts[key]++
	f.mu.Unlock()
	if s := f.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	if n := f.cutAfter.Load(); n > 0 && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, f.cutPath.Load().(string)) &&
		f.cutAfter.CompareAndSwap(n, 0) {
		w = &cuttingWriter{ResponseWriter: w, left: n}
	}
	f.rp.ServeHTTP(w, r)
}

// cut makes the next GET of a path ending in suffix break off after n bytes.
func (f *front) cut(suffix string, n int64) {
	f.cutPath.Store(suffix)
	f.cutAfter.Store(n)
}

// count returns how many requests of method to paths ending in suffix
// were forwarded.
func (f *front) count(method, suffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.counts {
		if strings.HasPrefix(k, method+" ") && strings.HasSuffix(k, suffix) {
			n += v
		}
	}
	return n
}

func (f *front) resetCounts() {
	f.mu.Lock()
	clear(f.counts)
	f.mu.Unlock()
}

// cuttingWriter aborts the connection after left body bytes.
type cuttingWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cuttingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) >= c.left {
		c.ResponseWriter.Write(p[:c.left])
		if fl, ok := c.ResponseWriter.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	c.left -= int64(len(p))
	return c.ResponseWriter.Write(p)
}

func (c *cuttingWriter) Flush() {
	if fl, ok := c.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// proxyUpstream configures one upstream of the Berth under test.
type proxyUpstream struct {
	name, project string
	up            *upstream
	namespaces    []string
	mirror        bool
	ttl           time.Duration
	cacheSize     int64
	maxAge        time.Duration
}

// startProxy runs the Berth under test with the given upstreams.
func startProxy(t *testing.T, ups []proxyUpstream, edit func(*config.Config)) *apptest.Server {
	t.Helper()
	return apptest.Start(t, func(c *config.Config) {
		c.Proxy.SpoolDir = filepath.Join(c.Data, "proxy-spool")
		c.Proxy.EvictionInterval = 0 // tests call EnforceLimits
		c.Proxy.InUseGrace = time.Minute
		for _, u := range ups {
			ttl := u.ttl
			if ttl == 0 {
				ttl = time.Hour
			}
			project := u.project
			if project == "" {
				project = u.name
			}
			c.Proxy.Upstreams = append(c.Proxy.Upstreams, config.Upstream{
				Name: u.name, URL: "http://" + u.up.Host(), Username: u.up.user, Password: u.up.pass,
				Project: project, Namespaces: u.namespaces, Mirror: u.mirror, ManifestTTL: ttl,
				CacheSize: config.ByteSize(u.cacheSize), MaxAge: u.maxAge, Timeout: 5 * time.Second,
			})
		}
		if edit != nil {
			edit(c)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

// push writes an image or index to an upstream and returns its digest.
func push(t *testing.T, up *upstream, repo string, img remote.Taggable) string {
	t.Helper()
	ref, err := name.ParseReference(up.Host()+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithAuth(up.auth()), remote.WithContext(context.Background())}
	switch v := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, v, opts...)
	case v1.Image:
		err = remote.Write(ref, v, opts...)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.(interface{ Digest() (v1.Hash, error) }).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// get does a GET against the Berth under test and returns status, headers, body.
func get(t *testing.T, url string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, resp.Header, body
}

// manifestAccept lists every manifest type, as clients send it.
const manifestAccept = "application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json," +
	"application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
