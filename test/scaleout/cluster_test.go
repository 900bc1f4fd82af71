package scaleout

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/storage/azure/aztest"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
	"github.com/berth-registry/berth/internal/testproc"
)

// uploadLease is the instances' registry.upload_lease: short, so that the
// session an instance was writing when it was killed is free again soon.
const uploadLease = 3 * time.Second

// cluster is two Berth instances behind nginx.
type cluster struct {
	dir       string
	inst      [2]*instance
	url       string       // https://127.0.0.1:PORT, nginx
	host      string       // 127.0.0.1:PORT, nginx
	caFile    string       // PEM of the CA that signed nginx's certificate
	client    *http.Client // trusts the CA; for nginx and the instances
	nginxLogs string       // nginx's access log: one line per request with the instance that served it
	// s3Endpoint is MinIO's own URL; s3Host (127.0.0.1:PORT) is nginx's
	// TLS front for it, where presigned blob URLs point.
	s3Endpoint, s3Host string
}

// instance is one `berth serve` process.
type instance struct {
	name      string
	addr      string // 127.0.0.1:PORT, plain HTTP
	bin, conf string
	data      string
	env       []string // BERTH_* settings beyond the config file
	log       string   // its stdout and stderr
	cmd       *exec.Cmd
	exited    chan struct{}
}

// url is an http URL of the instance itself, bypassing nginx.
func (in *instance) url(path string) string { return "http://" + in.addr + path }

// clusterOptions vary the cluster startCluster makes.
type clusterOptions struct {
	// auth turns on access control (builtin users, token authentication,
	// an admin with adminPassword) with nginx listed in
	// http.trusted_proxies. nginx then sends the instances its upstream's
	// name as Host: the realm in challenges can only come from
	// X-Forwarded-Proto and X-Forwarded-Host.
	auth bool
	// azure stores blobs in Azure Blob Storage (a real Azurite) instead of
	// S3, with redirects off (Azurite mishandles suffix and unsatisfiable
	// ranges, which the conformance suite sends).
	azure bool
	// gcs stores blobs in Google Cloud Storage (a real fake-gcs-server)
	// instead of S3, with redirects off like azure (the driver tests and
	// TestConformanceGCS cover its signed URLs).
	gcs bool
}

// adminPassword is the admin's password in a cluster with access control.
const adminPassword = "scaleout-admin-password"

// startCluster starts PostgreSQL and MinIO (once per test binary; each
// cluster has its own database and bucket), two instances and nginx; all
// are stopped when t ends.
func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	nginx := nginxBinary(t)
	dsn := pgtest.Start(t)
	var store string
	c := &cluster{dir: t.TempDir(), s3Host: freeAddr(t)}
	if o.azure {
		az := aztest.Start(t)
		u, _ := url.Parse(az.Endpoint)
		c.s3Endpoint = "http://" + u.Host // the TLS front is unused: no redirects
		store = fmt.Sprintf(`storage:
  driver: azure
  azure:
    account_name: %q
    account_key: %q
    endpoint: %q
    container: %q
    block_size: 1MiB
  redirect:
    enabled: false
`, az.AccountName, az.AccountKey, az.Endpoint, az.Container)
	} else if o.gcs {
		g := gcstest.Start(t)
		c.s3Endpoint = g.Endpoint // the TLS front is unused: no redirects
		store = fmt.Sprintf(`storage:
  driver: gcs
  gcs:
    bucket: %q
    endpoint: %q
    anonymous: true
    chunk_size: 256KiB
  redirect:
    enabled: false
`, g.Bucket, g.Endpoint)
	} else {
		s3 := s3test.Start(t)
		c.s3Endpoint = s3.Endpoint
		store = fmt.Sprintf(`storage:
  driver: s3
  s3:
    bucket: %q
    region: %q
    endpoint: %q
    public_endpoint: %q
    path_style: true
    access_key: %q
    secret_key: %q
    part_size: 5MiB
  redirect:
    enabled: true
`, s3.Bucket, s3.Region, s3.Endpoint, "https://"+c.s3Host, s3.AccessKey, s3.SecretKey)
	}
	bin := buildBerth(t)
	conf := filepath.Join(c.dir, "berth.yaml")
	var env []string
	authConf, hostHeader := "", "$http_host"
	if o.auth {
		authConf = `http:
  trusted_proxies: [127.0.0.1/32]
auth:
  mode: builtin
  bcrypt_cost: 4
`
		env = []string{"BERTH_AUTH_ADMIN_PASSWORD=" + adminPassword}
		hostHeader = "$proxy_host"
	}
	writeFile(t, conf, authConf+store+fmt.Sprintf(`version: 1
log:
  level: info
  format: text
database:
  driver: postgres
  postgres:
    dsn: %q
registry:
  upload_lease: %s
gc:
  interval: 0s
  grace_period: 1s
  batch_size: 20
jobs:
  lease: 3s
  poll: 200ms
`, dsn, uploadLease))
	for i := range c.inst {
		in := &instance{name: fmt.Sprintf("berth%d", i+1), addr: freeAddr(t), bin: bin, conf: conf, env: env}
		in.data = filepath.Join(c.dir, in.name)
		in.log = filepath.Join(c.dir, in.name+".log")
		c.inst[i] = in
		in.start(t)
		t.Cleanup(func() { in.stop(t) })
	}
	c.startNginx(t, nginx, hostHeader, o.auth)
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range c.inst {
				t.Logf("%s log, errors:\n%s", in.name, errorLines(in.log, 40))
				t.Logf("%s log (tail):\n%s", in.name, tail(in.log, 6000))
			}
			t.Logf("nginx error log (tail):\n%s", tail(filepath.Join(c.dir, "nginx", "error.log"), 3000))
		}
	})
	return c
}

// start runs the instance and waits until its /readyz answers 200.
func (in *instance) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(in.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the child has its own copy
	in.cmd = exec.Command(in.bin, "serve", "--config", in.conf, "--addr", in.addr, "--data", in.data)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_") && !strings.HasPrefix(kv, "AWS_") {
			in.cmd.Env = append(in.cmd.Env, kv)
		}
	}
	in.cmd.Env = append(in.cmd.Env, in.env...)
	in.cmd.Stdout, in.cmd.Stderr = logf, logf
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	in.exited = exited
	go func() { in.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(in.url("/readyz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", in.name, tail(in.log, 3000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.kill()
			t.Fatalf("%s not ready after 30s:\n%s", in.name, tail(in.log, 3000))
		}
	}
}

// kill ends the instance at once (SIGKILL), as a crash would.
func (in *instance) kill() {
	in.cmd.Process.Kill()
	<-in.exited
}

// stop shuts the instance down gracefully (SIGTERM), unless it is not
// running.
func (in *instance) stop(t *testing.T) {
	select {
	case <-in.exited:
		return
	default:
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop on SIGTERM in 15s", in.name)
		in.kill()
	}
}

// nginxBinary finds nginx in PATH or in /usr/sbin (not in every PATH).
func nginxBinary(t *testing.T) string {
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
			return "/usr/sbin/nginx"
		}
	}
	return testproc.Need(t, "nginx")
}

// nginxConf balances over the instances with least_conn (requests
// alternate between them when they are equally busy), terminates TLS, and
// streams bodies both ways: no size limit, no buffering, long timeouts for
// large layers. The access log names the instance that served each request.
const nginxConf = `worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log warn;
{{user}}
events { worker_connections 512; }
http {
  log_format upstream '$request_method $request_uri $status $sent_http_location $upstream_addr';
  access_log {{dir}}/access.log upstream;
  client_body_temp_path {{dir}}/tmp/body;
  proxy_temp_path {{dir}}/tmp/proxy;
  fastcgi_temp_path {{dir}}/tmp/fastcgi;
  uwsgi_temp_path {{dir}}/tmp/uwsgi;
  scgi_temp_path {{dir}}/tmp/scgi;

  upstream berth {
    least_conn;
    server {{addr1}} max_fails=1 fail_timeout=5s;
    server {{addr2}} max_fails=1 fail_timeout=5s;
    keepalive 16;
  }
  server {
    listen {{listen}} ssl;
    ssl_certificate {{dir}}/cert.pem;
    ssl_certificate_key {{dir}}/key.pem;

    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host {{hostheader}};
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_connect_timeout 5s;
    proxy_send_timeout 15m;
    proxy_read_timeout 15m;

    location / {
      proxy_pass http://berth;
    }
  }

  # MinIO's public face: the instances redirect blob downloads here
  # (storage.s3.public_endpoint), so that clients, which refuse to follow
  # a redirect from https to http, fetch blobs over TLS too. The Host
  # header is kept: it is part of the presigned URL's signature.
  server {
    listen {{s3listen}} ssl;
    ssl_certificate {{dir}}/cert.pem;
    ssl_certificate_key {{dir}}/key.pem;
    access_log {{dir}}/s3-access.log upstream;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    location / {
      proxy_pass {{s3}};
    }
  }
}
`

// startNginx writes the certificate and configuration and runs nginx in
// the foreground, as a child of the test. hostHeader is the Host it sends
// the instances; auth: anonymous GET /v2/ is answered 401.
func (c *cluster) startNginx(t *testing.T, bin, hostHeader string, auth bool) {
	t.Helper()
	dir := filepath.Join(c.dir, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	pool := makeCerts(t, dir)
	c.caFile = filepath.Join(dir, "ca.pem")
	c.client = &http.Client{Transport: &http.Transport{
		Proxy:              nil,
		TLSClientConfig:    &tls.Config{RootCAs: pool},
		DisableCompression: true, // the conformance suite checks the exact bytes
	}}
	c.host = freeAddr(t)
	c.url = "https://" + c.host
	c.nginxLogs = filepath.Join(dir, "access.log")
	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody, who cannot enter the test's 0700
		// temporary directory.
		user = "user root;"
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{user}}", user, "{{listen}}", c.host,
		"{{s3listen}}", c.s3Host, "{{s3}}", c.s3Endpoint, "{{hostheader}}", hostHeader,
		"{{addr1}}", c.inst[0].addr, "{{addr2}}", c.inst[1].addr).Replace(nginxConf)
	confPath := filepath.Join(dir, "nginx.conf")
	writeFile(t, confPath, conf)
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
		cmd.Process.Signal(syscall.SIGQUIT) // graceful: workers finish, then exit
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.client.Get(c.url + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || auth && resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited at start: %s\n%s", out.String(), tail(filepath.Join(dir, "error.log"), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not answering after 15s: %v\n%s", err, tail(filepath.Join(dir, "error.log"), 2000))
		}
	}
}

// certDir returns a directory holding the CA as ca.crt, the layout of
// containers' --cert-dir options.
func (c *cluster) certDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(c.dir, "certs.d")
	b, err := os.ReadFile(c.caFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ca.crt"), string(b))
	return dir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// errorLines returns up to n of a log file's ERROR lines (where a server
// error's detail goes), for failure messages: the tail alone often misses
// them.
func errorLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, "level=ERROR") && len(out) < n {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// tail returns the end of a log file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
