package scaleout

import (
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/enginetest"
)

// The real Docker daemon and containerd through nginx (TLS), each a
// private daemon of internal/enginetest. dockerd trusts a registry's CA
// only from /etc/docker/certs.d, which a test must not write: nginx is an
// insecure registry to it (TLS without certificate verification). ctr
// trusts the test CA through a hosts.toml (--hosts-dir).

// testEngines: docker pushes an imported image and one built FROM scratch
// with COPY, its requests spread over both instances; after removing them
// it pulls both back by tag and by digest (blob downloads redirected to
// MinIO's TLS front); ctr pulls the built image and pushes it to another
// repository, which serves the same digest.
func testEngines(t *testing.T, c *cluster) {
	d := enginetest.StartDocker(t, enginetest.DockerOptions{InsecureRegistries: []string{c.host}})
	dir := t.TempDir()
	imported := c.host + "/scaleout/docker-imported:v1"
	d.Run(t, "import", layerTar(t, dir, 2<<20, 60), imported)
	mark := c.logMark(t)
	importedDigest := d.Push(t, imported)
	c.checkSplit(t, mark, "docker push")

	built := c.host + "/scaleout/docker-built:v1"
	buildScratchImage(t, d, filepath.Join(dir, "context"), built)
	builtDigest := d.Push(t, built)

	d.Run(t, "rmi", imported, built)
	mark = c.logMark(t)
	if got := d.Pull(t, built); got != builtDigest {
		t.Errorf("docker pull %s: digest %s, pushed %s", built, got, builtDigest)
	}
	byDigest := c.host + "/scaleout/docker-imported@" + importedDigest
	if got := d.Pull(t, byDigest); got != importedDigest {
		t.Errorf("docker pull %s: digest %s", byDigest, got)
	}
	checkRedirectedBlobs(t, c, mark, 4) // each image: a config and a layer

	ctd := enginetest.StartContainerd(t)
	// ctr speaks plain HTTP to a loopback registry unless a hosts.toml
	// names the scheme (containerd 1.6 wants a [host] table); the CA goes
	// there too.
	hosts := filepath.Join(dir, "hosts")
	writeFile(t, filepath.Join(hosts, c.host, "hosts.toml"), fmt.Sprintf(
		"server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  ca = %q\n",
		"https://"+c.host, "https://"+c.host, c.caFile))
	tls := []string{"--hosts-dir", hosts}
	ctd.Ctr(t, append(append([]string{"-n", "scaleout", "image", "pull"}, tls...), built)...)
	if got := ctd.ImageDigest(t, "scaleout", built); got != builtDigest {
		t.Errorf("ctr pulled %s as %s, docker pushed %s", built, got, builtDigest)
	}
	pushed := c.host + "/scaleout/ctr-pushed:v1"
	ctd.Ctr(t, "-n", "scaleout", "image", "tag", built, pushed)
	ctd.Ctr(t, append(append([]string{"-n", "scaleout", "image", "push"}, tls...), pushed)...)
	resp, body := c.send(t, http.MethodHead, c.url+"/v2/scaleout/ctr-pushed/manifests/v1", nil,
		"Accept", "application/vnd.docker.distribution.manifest.v2+json")
	expect(t, "HEAD the image ctr pushed", resp, body, http.StatusOK)
	if got := resp.Header.Get("Docker-Content-Digest"); got != builtDigest {
		t.Errorf("ctr pushed %s, Berth serves it as %s", builtDigest, got)
	}
}

// testDockerLogin, on the cluster with access control: docker login
// through nginx, push and pull as a project developer with tokens either
// instance issued, and a refused push after docker logout.
func testDockerLogin(t *testing.T, c *cluster) {
	d := enginetest.StartDocker(t, enginetest.DockerOptions{InsecureRegistries: []string{c.host}})
	login := d.Exec(strings.NewReader("wrong-password"), "login", "-u", "dev", "--password-stdin", c.host)
	if login.Err == nil || !strings.Contains(strings.ToLower(login.Output()), "unauthorized") {
		t.Fatalf("docker login with a wrong password: %v\n%s", login.Err, login.Output())
	}
	d.RunIn(t, strings.NewReader(devPassword), "login", "-u", "dev", "--password-stdin", c.host)
	dir := t.TempDir()
	ref := c.host + "/team/docker:v1"
	buildScratchImage(t, d, filepath.Join(dir, "context"), ref)
	mark := c.logMark(t)
	digest := d.Push(t, ref)
	c.checkSplit(t, mark, "docker push with a token")
	d.Run(t, "rmi", ref)
	if got := d.Pull(t, ref); got != digest {
		t.Errorf("docker pull %s: digest %s, pushed %s", ref, got, digest)
	}
	checkDockerTokens(t, c, mark)

	d.Run(t, "logout", c.host)
	d.Run(t, "tag", ref, c.host+"/team/docker-anonymous:v1")
	r := d.Exec(nil, "push", c.host+"/team/docker-anonymous:v1")
	if out := strings.ToLower(r.Output()); r.Err == nil || !strings.Contains(out, "unauthorized") && !strings.Contains(out, "denied") {
		t.Fatalf("docker push after logout: %v\n%s", r.Err, r.Output())
	}
}

// buildScratchImage builds an image FROM scratch that COPYs a text file
// and 1 MiB of random bytes.
func buildScratchImage(t *testing.T, d *enginetest.Docker, dir, ref string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "hello.txt"), "hello from docker build "+filepath.Base(dir)+" "+runtime.GOARCH+"\n")
	writeFile(t, filepath.Join(dir, "data.bin"), string(randomBytes(1<<20, uint64(len(ref)))))
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data.bin /data/data.bin\n")
	d.Run(t, "build", "-t", ref, dir)
}

// checkRedirectedBlobs checks that at least n blob GETs since mark were
// answered with a redirect to the storage (followed by the client).
func checkRedirectedBlobs(t *testing.T, c *cluster, mark int64, n int) {
	t.Helper()
	redirected := 0
	for _, a := range c.accessLog(t, mark) {
		if a.method == http.MethodGet && strings.Contains(a.uri, "/blobs/sha256:") && a.status == http.StatusTemporaryRedirect {
			redirected++
		}
	}
	if redirected < n {
		t.Errorf("%d blob GETs were redirected to the storage, want %d or more", redirected, n)
	}
}

// checkDockerTokens checks that docker got tokens through nginx and that
// none of its requests with one was refused. (It pings /v2/ without one
// before each push and pull: those 401s are the challenge it asks for.)
func checkDockerTokens(t *testing.T, c *cluster, mark int64) {
	t.Helper()
	issued := map[string]int{}
	for _, a := range c.accessLog(t, mark) {
		switch {
		case strings.HasPrefix(a.uri, "/token"):
			if a.status != http.StatusOK {
				t.Errorf("token request %s answered %d", a.uri, a.status)
			}
			for _, in := range a.served {
				issued[in]++
			}
		case a.status == http.StatusUnauthorized && a.uri != "/v2/":
			t.Errorf("%s %s was refused (401) though docker had a token", a.method, a.uri)
		}
	}
	if len(issued) == 0 {
		t.Error("no token request went through nginx")
	}
	t.Logf("tokens issued by %v", issued)
}
