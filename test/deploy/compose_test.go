package deploy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/config"
)

// The Compose set-up: `docker-compose config` accepts it with the example
// .env and refuses it without a password; both Berth services get the
// same environment, which with berth.yaml is a valid Berth configuration
// on PostgreSQL and S3 trusting nginx's address; nginx's upstreams are
// those services on their port, and `nginx -t` accepts its configuration.
func TestCompose(t *testing.T) {
	compose := need(t, "docker-compose", "apt-get install docker-compose; scripts/install-tools.sh does")
	dir := filepath.Join(repoRoot, "deploy", "compose")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out := mustRun(t, dir, env, compose, "--env-file", ".env.example", "config")

	var c struct {
		Services map[string]struct {
			Image       string
			Environment map[string]string
			Volumes     []string
			Ports       []any
			Networks    map[string]*struct {
				IPv4Address string `yaml:"ipv4_address"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := []string{"berth1", "berth2", "minio", "minio-init", "nginx", "postgres"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	b1, b2 := c.Services["berth1"], c.Services["berth2"]
	if b1.Image != b2.Image || !equalMaps(b1.Environment, b2.Environment) || !slices.Equal(b1.Volumes, b2.Volumes) {
		t.Errorf("berth1 and berth2 differ:\n%+v\n%+v", b1, b2)
	}

	// berth.yaml (mounted at BERTH_CONFIG) plus the environment is a valid
	// configuration, with the secrets from .env in place.
	var benv []string
	for k, v := range b1.Environment {
		benv = append(benv, k+"="+v)
	}
	if !slices.Contains(b1.Volumes, filepath.Join(dir, "berth.yaml")+":"+b1.Environment["BERTH_CONFIG"]+":ro") {
		t.Errorf("berth.yaml is not mounted at BERTH_CONFIG (%s): %v", b1.Environment["BERTH_CONFIG"], b1.Volumes)
	}
	cfg, err := config.Load(filepath.Join(dir, "berth.yaml"), benv, config.Overrides{})
	if err != nil {
		t.Fatalf("berth.yaml with berth1's environment: %v", err)
	}
	nginxIP := c.Services["nginx"].Networks["berth"].IPv4Address
	if cfg.Database.Driver != "postgres" || !strings.Contains(cfg.Database.Postgres.DSN, ":change-me-postgres@postgres:5432/") ||
		cfg.Storage.Driver != "s3" || cfg.Storage.S3.SecretKey != "change-me-minio" || cfg.Storage.S3.Endpoint != "http://minio:9000" ||
		cfg.Auth.Admin.Password != "change-me-admin" || !slices.Contains(cfg.HTTP.TrustedProxies, nginxIP) {
		t.Errorf("configuration: database %+v, storage %+v, admin %+v, trusted proxies %v (nginx %s)",
			cfg.Database, cfg.Storage.S3, cfg.Auth.Admin, cfg.HTTP.TrustedProxies, nginxIP)
	}

	// A missing secret is an error, not an empty password.
	noPassword := filepath.Join(t.TempDir(), "env")
	example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(noPassword, regexp.MustCompile(`(?m)^POSTGRES_PASSWORD=.*\n`).ReplaceAll(example, nil), 0o644)
	if _, err := command(dir, env, compose, "--env-file", noPassword, "config"); err == nil || !strings.Contains(err.Error(), "POSTGRES_PASSWORD") {
		t.Errorf("docker-compose config without POSTGRES_PASSWORD: %v", err)
	}

	checkNginx(t, dir, c.Services, cfg.HTTP.Addr)
}

// checkNginx checks that nginx.conf's upstream servers are Compose
// services on Berth's port, then runs `nginx -t` on a copy with those
// names replaced by 127.0.0.1 (nginx resolves them when it loads) and a
// certificate made here.
func checkNginx[S any](t *testing.T, dir string, services map[string]S, addr string) {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	servers := regexp.MustCompile(`(?m)^\s*server ([a-z0-9-]+):(\d+)`).FindAllStringSubmatch(string(conf), -1)
	if len(servers) != 2 {
		t.Fatalf("nginx.conf has %d upstream servers, want 2", len(servers))
	}
	local := string(conf)
	for _, s := range servers {
		if _, ok := services[s[1]]; !ok || ":"+s[2] != addr {
			t.Errorf("nginx upstream %s:%s is not a service on Berth's address %s", s[1], s[2], addr)
		}
		local = strings.ReplaceAll(local, s[1]+":"+s[2], "127.0.0.1:"+s[2])
	}

	nginx := need(t, "nginx", "apt-get install nginx")
	tmp := t.TempDir()
	writeCert(t, filepath.Join(tmp, "registry.pem"), filepath.Join(tmp, "registry.key"))
	local = strings.ReplaceAll(local, "/etc/nginx/tls/", tmp+"/")
	if err := os.WriteFile(filepath.Join(tmp, "nginx.conf"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, tmp, nil, nginx, "-t", "-q", "-p", tmp, "-c", filepath.Join(tmp, "nginx.conf"),
		"-e", filepath.Join(tmp, "error.log"), "-g", "pid "+filepath.Join(tmp, "nginx.pid")+";")
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// writeCert writes a self-signed certificate for localhost.
func writeCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}
