package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/enginetest"
)

// The real Docker daemon (Debian's docker.io, 20.10) against Berth: a
// private dockerd per test (internal/enginetest), with the registries it
// talks to as insecure registries (plain HTTP) and Berth as its
// registry-mirrors for docker.io names.

// mirrorUpstream is the proxy.upstreams entry that makes a Berth the
// mirror (Docker registry-mirrors) and the docker.io namespace (containerd
// ?ns=docker.io) of the registry up; its cache lives in project hub.
func mirrorUpstream(up *registry) string {
	return `BERTH_PROXY_UPSTREAMS=[{name: hub, url: "http://` + up.Host + `", mirror: true, namespaces: [docker.io]}]`
}

// startMirroring starts an upstream registry and a Berth with access
// control off that is the upstream's mirror (and a registry of its own).
// With another target there is no mirror (up is nil): needMirror skips.
func startMirroring(t *testing.T) (reg, up *registry) {
	t.Helper()
	if target != "berth" {
		return startRegistry(t), nil
	}
	up = startRegistry(t)
	return startRegistryEnv(t, []string{mirrorUpstream(up)}), up
}

// needMirror skips a mirror scenario when the target is not Berth.
func needMirror(t *testing.T) {
	t.Helper()
	if target != "berth" {
		t.Skipf("mirror mode and ?ns= are Berth's (target %s)", target)
	}
}

// Access control off: docker pushes an imported image and one built FROM
// scratch, pulls both back by tag and by digest after removing them, and
// pulls a docker.io name through Berth's mirror mode.
func TestDockerPushPull(t *testing.T) {
	reg, up := startMirroring(t)
	opts := enginetest.DockerOptions{InsecureRegistries: []string{reg.Host}}
	if up != nil {
		opts.InsecureRegistries = append(opts.InsecureRegistries, up.Host)
		opts.Mirrors = []string{"http://" + reg.Host}
	}
	d := enginetest.StartDocker(t, opts)
	t.Run("push-pull", func(t *testing.T) { testDockerPushPull(t, d, reg, "e2e") })
	t.Run("mirror", func(t *testing.T) {
		needMirror(t)
		testDockerMirror(t, d, reg, up)
	})
}

// Access control on (token authentication): a wrong password fails docker
// login, the right one lets a project developer push and pull; after
// docker logout a push is refused and the private project cannot be
// pulled; mirror mode serves anonymous pulls through a public project.
func TestDockerTokenAuth(t *testing.T) {
	needMirror(t)
	up := startRegistry(t)
	reg, robot, secret := startAuthRegistryEnv(t, []string{mirrorUpstream(up)})
	reg.admin(t, "POST", "/api/v1/projects", `{"name":"hub","public":true}`, http.StatusCreated)
	d := enginetest.StartDocker(t, enginetest.DockerOptions{
		InsecureRegistries: []string{reg.Host, up.Host},
		Mirrors:            []string{"http://" + reg.Host},
	})

	from := len(reg.Requests())
	failsLogin(t, cmdResult(d.Exec(strings.NewReader("wrong-password"), "login", "-u", "dev", "--password-stdin", reg.Host)),
		"unauthorized", "401")
	d.RunIn(t, strings.NewReader(e2eDevPassword), "login", "-u", "dev", "--password-stdin", reg.Host)
	t.Run("push-pull", func(t *testing.T) {
		testDockerPushPull(t, d, reg, "team")
		usedTokens(t, reg, from)
	})
	t.Run("robot", func(t *testing.T) {
		d.RunIn(t, strings.NewReader(secret), "login", "-u", robot, "--password-stdin", reg.Host)
		ref := reg.Host + "/team/robot:v1"
		d.Run(t, "import", writeDockerImportTar(t, t.TempDir()), ref)
		digest := d.Push(t, ref)
		d.Run(t, "rmi", ref)
		if got := d.Pull(t, reg.Host+"/team/robot@"+digest); got != digest {
			t.Fatalf("pulled by digest %s, got %s", digest, got)
		}
	})
	t.Run("logout", func(t *testing.T) {
		d.Run(t, "logout", reg.Host)
		ref := reg.Host + "/team/after-logout:v1"
		d.Run(t, "import", writeDockerImportTar(t, t.TempDir()), ref)
		refusedByRegistry(t, d.Exec(nil, "push", ref), "push after logout")
		refusedByRegistry(t, d.Exec(nil, "pull", reg.Host+"/team/robot:v1"), "anonymous pull of a private project")
		// Nothing of the refused push was kept. (The name is not local, so
		// mirror mode asks the upstream, which lacks it too.)
		res := reg.do(t, http.MethodGet, "/v2/team/after-logout/manifests/v1", adminHeader(http.Header{"Accept": {allManifestTypes}}), nil)
		if res.Status != http.StatusNotFound {
			t.Errorf("GET of the refused image: want 404, got\n%s", res)
		}
	})
	t.Run("mirror", func(t *testing.T) { testDockerMirror(t, d, reg, up) })
}

// testDockerPushPull pushes an image made by docker import and one built
// FROM scratch with COPY into project/..., checks that Berth serves the
// digests docker push reported, removes them from the daemon and pulls
// them back by tag and by digest, and reads a file of the pulled image.
func testDockerPushPull(t *testing.T, d *enginetest.Docker, reg *registry, project string) {
	dir := t.TempDir()
	imported := project + "/docker-imported"
	d.Run(t, "import", writeDockerImportTar(t, dir), reg.Host+"/"+imported+":v1")
	importedDigest := d.Push(t, reg.Host+"/"+imported+":v1")

	ctx := filepath.Join(dir, "context")
	hello := "hello from docker build " + filepath.Base(dir) + "\n"
	writeFile(t, filepath.Join(ctx, "hello.txt"), []byte(hello))
	writeRandomFile(t, filepath.Join(ctx, "data.bin"), 512<<10)
	writeFile(t, filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data.bin /data/data.bin\n"))
	built := project + "/docker-built"
	d.Run(t, "build", "-t", reg.Host+"/"+built+":v1", ctx)
	builtDigest := d.Push(t, reg.Host+"/"+built+":v1")

	for repo, digest := range map[string]string{imported: importedDigest, built: builtDigest} {
		res := reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/v1", adminHeader(http.Header{"Accept": {allManifestTypes}}), nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s:v1: want 200, got\n%s", repo, res)
		}
		if got, body := res.Header.Get("Docker-Content-Digest"), sha256Digest(res.Body); got != digest || body != digest {
			t.Errorf("%s:v1: Berth serves %s (body %s), docker push reported %s", repo, got, body, digest)
		}
		if m := parseManifest(t, res.Body); m.MediaType != mtDockerManifest {
			t.Errorf("%s:v1: media type %q, want %s", repo, m.MediaType, mtDockerManifest)
		}
	}

	// Nothing left locally: the pulls below download every layer.
	d.Run(t, "rmi", reg.Host+"/"+imported+":v1", reg.Host+"/"+built+":v1")
	mark := len(reg.Requests())
	if got := d.Pull(t, reg.Host+"/"+built+":v1"); got != builtDigest {
		t.Errorf("pull by tag: digest %s, pushed %s", got, builtDigest)
	}
	if got := d.Pull(t, reg.Host+"/"+imported+"@"+importedDigest); got != importedDigest {
		t.Errorf("pull by digest: digest %s, pushed %s", got, importedDigest)
	}
	if recs := reg.Requests(); len(recs) > 0 {
		blobs := 0
		for _, r := range requestsSince(recs, mark) {
			if r.Method == http.MethodGet && strings.Contains(r.URI, "/blobs/sha256:") && r.Status == http.StatusOK {
				blobs++
			}
		}
		// Each image: its config and one layer.
		if blobs < 4 {
			t.Errorf("the pulls downloaded %d blobs, want 4 or more:\n%s", blobs, formatRecords(requestsSince(recs, mark)))
		}
	}
	repoDigests := d.Run(t, "image", "inspect", "--format", "{{json .RepoDigests}}", reg.Host+"/"+built+":v1")
	if !strings.Contains(repoDigests, reg.Host+"/"+built+"@"+builtDigest) {
		t.Errorf("RepoDigests %s lack the pushed digest %s", strings.TrimSpace(repoDigests), builtDigest)
	}

	// The file COPY put in the image came back (the container is created,
	// never run).
	id := strings.TrimSpace(d.Run(t, "create", "--network", "none", reg.Host+"/"+built+":v1", "/hello.txt"))
	out := filepath.Join(dir, "hello.out")
	d.Run(t, "cp", id+":/hello.txt", out)
	d.Run(t, "rm", id)
	if got := string(readFile(t, out)); got != hello {
		t.Errorf("hello.txt in the pulled image: %q, want %q", got, hello)
	}
}

// testDockerMirror pushes library/busybox:<unique tag> into the upstream,
// then pulls busybox:<tag> (a docker.io name) with nothing else to reach
// but the mirror: the daemon gets the upstream's digest from Berth, and a
// second pull after removing the image is served from Berth's cache.
func testDockerMirror(t *testing.T, d *enginetest.Docker, reg, up *registry) {
	tag := "e2e-" + randomHex(8)
	upRef := up.Host + "/library/busybox:" + tag
	d.Run(t, "import", writeDockerImportTar(t, t.TempDir()), upRef)
	digest := d.Push(t, upRef)
	d.Run(t, "rmi", upRef)

	mark := len(reg.Requests())
	if got := d.Pull(t, "busybox:"+tag); got != digest {
		t.Fatalf("docker pull busybox:%s through the mirror: digest %s, upstream has %s", tag, got, digest)
	}
	if recs := reg.Requests(); len(recs) > 0 {
		served := false
		for _, r := range requestsSince(recs, mark) {
			// dockerd resolves the tag with a HEAD, then GETs the digest.
			if r.URI == "/v2/library/busybox/manifests/"+tag && r.Status == http.StatusOK {
				served = true
			}
		}
		if !served {
			t.Errorf("Berth did not resolve /v2/library/busybox/manifests/%s:\n%s", tag, formatRecords(requestsSince(recs, mark)))
		}
	}
	if repos := reg.catalog(t); !slices.Contains(repos, "hub/library/busybox") {
		t.Errorf("the mirror's cache hub/library/busybox is not in the catalog %q", repos)
	}

	upBlobs := func() int {
		n := 0
		for _, r := range up.Requests() {
			if r.Method == http.MethodGet && strings.HasPrefix(r.URI, "/v2/library/busybox/blobs/") {
				n++
			}
		}
		return n
	}
	before := upBlobs()
	d.Run(t, "rmi", "busybox:"+tag)
	if got := d.Pull(t, "busybox@"+digest); got != digest {
		t.Fatalf("docker pull busybox@%s through the mirror: digest %s", digest, got)
	}
	if after := upBlobs(); after != before {
		t.Errorf("the second pull fetched blobs from the upstream again (%d -> %d GETs): not served from the cache", before, after)
	}
}

// writeDockerImportTar writes a root filesystem tarball with content no
// registry has seen, for docker import.
func writeDockerImportTar(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "rootfs.tar")
	writeFile(t, path, randomTar(t, 128<<10))
	return path
}

// refusedByRegistry checks that a docker command failed because the
// registry refused it, not for another reason.
func refusedByRegistry(t *testing.T, r enginetest.Result, what string) {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("%s succeeded:\n%s", what, r.Output())
	}
	out := strings.ToLower(r.Output())
	for _, w := range []string{"unauthorized", "authentication required", "denied"} {
		if strings.Contains(out, w) {
			t.Logf("%s refused: %s", what, strings.TrimSpace(r.Output()))
			return
		}
	}
	t.Fatalf("%s failed, but not as refused by the registry: %v\n%s", what, r.Err, r.Output())
}

func randomHex(n int) string {
	const hexDigits = "0123456789abcdef"
	rng := newRand()
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[rng.Uint64()%16]
	}
	return string(b)
}

// adminHeader adds the administrator's credentials to h; a registry
// without access control ignores them.
func adminHeader(h http.Header) http.Header {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth("admin", e2eAdminPassword)
	h.Set("Authorization", req.Header.Get("Authorization"))
	return h
}

// catalog lists the repositories, as the administrator when access
// control is on (the header is ignored when it is off).
func (r *registry) catalog(t *testing.T) []string {
	t.Helper()
	var c struct{ Repositories []string }
	if err := json.Unmarshal(r.admin(t, "GET", "/v2/_catalog?n=1000", "", http.StatusOK), &c); err != nil {
		t.Fatal(err)
	}
	return c.Repositories
}
