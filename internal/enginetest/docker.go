package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// DockerOptions configure a daemon's registry access.
type DockerOptions struct {
	// InsecureRegistries are host:port the daemon may reach over plain
	// HTTP, or over TLS without verifying the certificate.
	InsecureRegistries []string
	// Mirrors are registry-mirrors URLs for docker.io names.
	Mirrors []string
}

// Docker is a private Docker daemon and a client configured for it.
type Docker struct {
	// Host is its socket as DOCKER_HOST (unix://...).
	Host string
	// Config is the client's DOCKER_CONFIG directory (credentials).
	Config string
	// Dir is its directory, removed when the test ends.
	Dir string

	client string
	env    []string
}

// StartDocker starts dockerd on a containerd of its own, both in one
// directory, and waits until it answers /_ping; both are stopped and the
// directory removed when the test ends.
func StartDocker(t testing.TB, o DockerOptions) *Docker {
	t.Helper()
	dockerd := binary(t, "dockerd", "/usr/sbin", "/usr/bin")
	// /usr/bin/docker is the daemon's own client; another docker may be
	// earlier in PATH.
	client := "/usr/bin/docker"
	if _, err := os.Stat(client); err != nil {
		client = binary(t, "docker")
	}
	containerd := binary(t, "containerd", "/usr/bin", "/usr/sbin")
	ctr := binary(t, "ctr", "/usr/bin")

	dir := tempDir(t, "dockerd-")
	ctd := startContainerd(t, containerd, ctr, filepath.Join(dir, "containerd"))
	d := &Docker{Host: "unix://" + filepath.Join(dir, "docker.sock"), Config: filepath.Join(dir, "config"), Dir: dir, client: client}
	writeFile(t, filepath.Join(d.Config, "config.json"), `{"auths":{}}`)
	// The trust key goes to /etc/docker/key.json unless named, and only
	// the configuration file can name it.
	daemonJSON, err := json.Marshal(map[string]string{"deprecated-key-path": filepath.Join(dir, "key.json")})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "daemon.json"), string(daemonJSON))

	ns := "berth-" + strings.TrimPrefix(filepath.Base(dir), "dockerd-")
	args := []string{
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", d.Host,
		"--containerd", ctd.Address,
		"--containerd-namespace", ns,
		"--containerd-plugins-namespace", ns + "-plugins",
		"--storage-driver", "vfs",
		"--iptables=false", "--ip6tables=false", "--bridge=none",
	}
	for _, r := range o.InsecureRegistries {
		args = append(args, "--insecure-registry", r)
	}
	for _, m := range o.Mirrors {
		args = append(args, "--registry-mirror", m)
	}
	daemon := startDaemon(t, "dockerd", dir, dockerd, cleanEnv(), args...)

	d.env = cleanEnv("DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+d.Config,
		// The classic builder: BuildKit is not what Debian's 20.10 client
		// uses by default either, and it needs no extra daemon.
		"DOCKER_BUILDKIT=0")
	sock := filepath.Join(dir, "docker.sock")
	ping := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		},
	}}
	daemon.waitReady(t, func() error {
		resp, err := ping.Get("http://docker/_ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/_ping: %s", resp.Status)
		}
		return nil
	})
	return d
}

// Exec runs the Docker client with stdin (may be nil) and returns what it
// did.
func (d *Docker) Exec(stdin io.Reader, args ...string) Result {
	return run(d.env, d.Dir, stdin, d.client, args...)
}

// Run runs the Docker client, fails the test if it fails, and returns its
// stdout.
func (d *Docker) Run(t testing.TB, args ...string) string {
	t.Helper()
	return d.RunIn(t, nil, args...)
}

// RunIn is Run with stdin.
func (d *Docker) RunIn(t testing.TB, stdin io.Reader, args ...string) string {
	t.Helper()
	start := time.Now()
	r := d.Exec(stdin, args...)
	t.Logf("$ docker %s  (%.1fs)", strings.Join(args, " "), time.Since(start).Seconds())
	return mustSucceed(t, r, "docker", args)
}

var (
	pushDigestRE = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`)
	pullDigestRE = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})$`)
)

// Push runs docker push and returns the manifest digest it reports.
func (d *Docker) Push(t testing.TB, ref string) string {
	t.Helper()
	out := d.Run(t, "push", ref)
	m := pushDigestRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("docker push %s printed no digest:\n%s", ref, out)
	}
	return m[1]
}

// Pull runs docker pull and returns the manifest digest it reports.
func (d *Docker) Pull(t testing.TB, ref string) string {
	t.Helper()
	out := d.Run(t, "pull", ref)
	m := pullDigestRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("docker pull %s printed no digest:\n%s", ref, out)
	}
	return m[1]
}
