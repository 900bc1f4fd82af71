package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/enginetest"
	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
	"github.com/berth-registry/berth/internal/syncbuf"
	"github.com/berth-registry/berth/internal/testproc"
)

// Adoption of a registry:2 installation in place: CNCF Distribution 2.8
// (Debian's docker-registry) stores images pushed by real clients; Berth
// then serves the same configuration file and directory, and afterwards
// Distribution serves them again (rollback).

// startProcess runs a registry binary with args until the returned stop is
// called (or the test ends), once GET /v2/ on addr answers.
func startProcess(t *testing.T, bin string, args, env []string, addr string) (stop func()) {
	t.Helper()
	r := &registry{Host: addr, Direct: addr, output: &syncbuf.Buffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = r.output, r.output
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	if err := r.waitReady(60*time.Second, false); err != nil {
		r.kill()
		t.Fatalf("%s %v: %v\n%s", bin, args, err, r.output.String())
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		if err := r.stop(15 * time.Second); err != nil {
			t.Errorf("%s: %v", bin, err)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), truncate(r.output.String(), 20000))
		}
	}
	t.Cleanup(stop)
	return stop
}

// served is what a registry answers for one manifest reference.
type served struct {
	Status      int
	Digest      string
	ContentType string
	Sum         string // sha256 of the body
}

// snapshot is what a registry lists and serves.
type snapshot struct {
	Repos     []string
	Tags      map[string][]string
	Manifests map[string]served // repo:tag or repo@digest
}

var acceptManifests = strings.Join([]string{
	"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
}, ", ")

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func getManifest(t *testing.T, addr, repo, ref string) served {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", acceptManifests)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s := served{Status: resp.StatusCode}
	if resp.StatusCode == 200 {
		s.Digest, s.ContentType = resp.Header.Get("Docker-Content-Digest"), resp.Header.Get("Content-Type")
		s.Sum = fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	}
	return s
}

// takeSnapshot lists addr's repositories and tags and fetches every tag
// and every digest in digests.
func takeSnapshot(t *testing.T, addr string, digests map[string][]string) snapshot {
	t.Helper()
	var cat struct{ Repositories []string }
	getJSON(t, "http://"+addr+"/v2/_catalog?n=1000", &cat)
	s := snapshot{Repos: cat.Repositories, Tags: map[string][]string{}, Manifests: map[string]served{}}
	for _, repo := range cat.Repositories {
		var tl struct{ Tags []string }
		getJSON(t, "http://"+addr+"/v2/"+repo+"/tags/list", &tl)
		slices.Sort(tl.Tags)
		s.Tags[repo] = tl.Tags
		for _, tag := range tl.Tags {
			s.Manifests[repo+":"+tag] = getManifest(t, addr, repo, tag)
		}
	}
	for repo, ds := range digests {
		for _, d := range ds {
			s.Manifests[repo+"@"+d] = getManifest(t, addr, repo, d)
		}
	}
	return s
}

func compareSnapshots(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	// Repositories pushed since may be listed too.
	if !slices.Equal(slices.DeleteFunc(slices.Clone(got.Repos), func(r string) bool { return !slices.Contains(want.Repos, r) }), want.Repos) {
		t.Errorf("%s: catalog %q, want %q", what, got.Repos, want.Repos)
	}
	for repo, tags := range want.Tags {
		if !slices.Equal(got.Tags[repo], tags) {
			t.Errorf("%s: %s tags %q, want %q", what, repo, got.Tags[repo], tags)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.Manifests)) {
		if g, w := got.Manifests[k], want.Manifests[k]; g != w {
			t.Errorf("%s: %s served %+v, want %+v", what, k, g, w)
		}
	}
}

func TestAdoptDistribution(t *testing.T) {
	if target != "berth" {
		t.Skip("adoption is Berth's: E2E_TARGET=berth")
	}
	distBin := "/usr/bin/docker-registry"
	if _, err := os.Stat(distBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (apt-get install docker-registry)", distBin, err)
		}
		t.Skipf("%s: %v", distBin, err)
	}
	for _, tool := range []string{"crane", "skopeo", "oras", "cosign"} {
		testproc.Need(t, tool)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "registry")
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conf := filepath.Join(dir, "config.yml")
	writeFile(t, conf, []byte(distributionConfig(addr, root)))
	distEnv := withoutEnv(os.Environ(), "AWS_CA_BUNDLE")
	berthEnv := append(os.Environ(), "BERTH_LOG_LEVEL=warn")
	startDist := func() func() { return startProcess(t, distBin, []string{"serve", conf}, distEnv, addr) }

	// Distribution 2.8, populated by real clients, the Docker daemon among them.
	docker := enginetest.StartDocker(t, enginetest.DockerOptions{InsecureRegistries: []string{addr}})
	stop := startDist()
	c := newClients(t, &registry{Host: addr, Direct: addr})
	c.env = append(c.env, "COSIGN_PASSWORD=e2e-cosign-password")
	digests := map[string][]string{}
	untagged := pushCraneImage(t, c, c.ref("app/oci", "v1"), 4<<10, 8<<10) // moved below: untagged
	ociV1 := pushCraneImage(t, c, c.ref("app/oci", "v1"), 16<<10)
	gone := pushCraneImage(t, c, c.ref("app/oci", "gone"), 1<<10)
	c.crane("delete", c.ref("app/oci", gone)) // deletes the manifest and its tag
	digests["app/oci"] = []string{untagged, ociV1, gone}
	// Docker schema 2 (crane append without a base writes Docker media types).
	layer := writeRandomTarFile(t, t.TempDir(), 6<<10)
	out := strings.TrimSpace(c.crane("append", "-f", layer, "-t", c.ref("app/docker", "1.0")))
	_, dockerDigest, _ := strings.Cut(out, "@")
	digests["app/docker"] = []string{dockerDigest}
	// A multi-arch index whose children are untagged where it is copied to.
	amd := pushCraneImage(t, c, c.ref("stage/multi", "amd64"), 2<<10)
	arm := pushCraneImage(t, c, c.ref("stage/multi", "arm64"), 3<<10)
	c.crane("index", "append", "-t", c.ref("stage/multi", "index"), "-m", c.ref("stage/multi", amd), "-m", c.ref("stage/multi", arm))
	c.crane("copy", c.ref("stage/multi", "index"), c.ref("app/multi", "1.0"))
	digests["app/multi"] = []string{amd, arm}
	// An oras artifact and a referrer (Distribution 2.8 has no referrers
	// API: oras keeps the referrers tag scheme's index, sha256-<hex>).
	writeFile(t, filepath.Join(c.dir, "notes.txt"), []byte("release notes\n"))
	writeFile(t, filepath.Join(c.dir, "sig.txt"), []byte("signature\n"))
	c.oras("push", "--artifact-type", "application/vnd.e2e.notes", c.ref("app/art", "v1"), "notes.txt:text/plain")
	artDigest := getManifest(t, addr, "app/art", "v1").Digest
	c.oras("attach", "--artifact-type", "application/vnd.e2e.sig", c.ref("app/art", "v1"), "sig.txt:text/plain")
	// A cosign signature (a sha256-<hex>.sig tag).
	c.cosign("generate-key-pair")
	c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", c.ref("app/oci", ociV1))
	engineRef := addr + "/app/engine:v1"
	docker.Run(t, "import", writeDockerImportTar(t, t.TempDir()), engineRef)
	engineDigest := docker.Push(t, engineRef)
	docker.Run(t, "rmi", engineRef)
	before := takeSnapshot(t, addr, digests)
	stop()
	if before.Manifests["app/oci@"+gone].Status != 404 || !slices.Contains(before.Tags["app/art"], "sha256-"+strings.TrimPrefix(artDigest, "sha256:")) {
		t.Fatalf("Distribution's state is not what the test expects: %+v", before)
	}
	t.Logf("Distribution served %d repositories: %v", len(before.Repos), before.Tags)

	berth := func(args ...string) (string, int) {
		cmd := exec.Command(serverBin, args...)
		cmd.Env = berthEnv
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("$ berth %s: exit %d\n%s", strings.Join(args, " "), code, out)
		return string(out), code
	}
	// A dry run writes nothing (not even Berth's directory).
	if out, code := berth("import", "--dry-run", "--from", conf); code != 0 || !strings.Contains(out, "would import 6 repositories") {
		t.Errorf("dry run: exit %d, want 0 and 6 repositories", code)
	}
	if _, err := os.Stat(filepath.Join(root, "berth")); !os.IsNotExist(err) {
		t.Fatalf("the dry run created Berth's directory (%v)", err)
	}
	// A tag left dangling (as Distribution's GC leaves them): reported, not fatal.
	writeFile(t, filepath.Join(root, "docker/registry/v2/repositories/app/oci/_manifests/tags/dangling/current/link"),
		[]byte("sha256:"+strings.Repeat("0", 64)))
	out, code := berth("import", "--from", conf)
	if code != 2 || !strings.Contains(out, "dangling tag: app/oci dangling") {
		t.Errorf("import: exit %d, want 2 with the dangling tag reported", code)
	}

	// Berth on the same configuration file and directory.
	stop = startProcess(t, serverBin, []string{"registry", "serve", conf}, berthEnv, addr)
	compareSnapshots(t, "berth", takeSnapshot(t, addr, digests), before)
	pullAll := func(what string) {
		t.Helper()
		layout := t.TempDir()
		for _, ref := range []string{c.ref("app/oci", "v1"), c.ref("app/oci", untagged), c.ref("app/docker", "1.0"), c.ref("app/multi", amd)} {
			c.crane("validate", "--remote", ref)
		}
		c.skopeo("copy", "--all", "--src-tls-verify=false", "docker://"+c.ref("app/multi", "1.0"), "oci:"+layout+":multi")
		c.skopeo("copy", "--src-tls-verify=false", "docker://"+c.ref("app/docker", "1.0"), "oci:"+layout+":docker")
		c.skopeo("copy", "--src-tls-verify=false", "docker://"+c.ref("app/oci", ociV1), "oci:"+layout+":oci")
		pull := t.TempDir()
		c.run("oras", "pull", "--plain-http", "-o", pull, c.ref("app/art", "v1"))
		if b, err := os.ReadFile(filepath.Join(pull, "notes.txt")); err != nil || string(b) != "release notes\n" {
			t.Errorf("%s: oras pull: %q, %v", what, b, err)
		}
		verified(t, c.cosign("verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", c.ref("app/oci", ociV1)), ociV1)
	}
	pullAll("berth")
	if got := docker.Pull(t, engineRef); got != engineDigest {
		t.Errorf("docker pull %s: %s, pushed %s", engineRef, got, engineDigest)
	}
	docker.Run(t, "rmi", engineRef)
	docker.Pull(t, addr+"/app/engine@"+engineDigest)
	// The referrers API, rebuilt from the subject fields.
	var idx struct {
		Manifests []struct{ ArtifactType string }
	}
	getJSON(t, "http://"+addr+"/v2/app/art/referrers/"+artDigest, &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != "application/vnd.e2e.sig" {
		t.Errorf("referrers of the artifact: %+v", idx)
	}
	// Pushes work afterwards, also of blobs Distribution holds (mounted or deduplicated).
	newImg := pushCraneImage(t, c, c.ref("app/new", "v1"), 5<<10)
	c.crane("copy", c.ref("app/oci", "v1"), c.ref("app/copied", "v1"))
	c.crane("validate", "--remote", c.ref("app/copied", "v1"))
	stop()

	// Berth's GC (Distribution's command line) deletes nothing referenced.
	if out, code := berth("registry", "garbage-collect", conf); code != 0 {
		t.Fatalf("garbage-collect: exit %d\n%s", code, out)
	}
	stop = startProcess(t, serverBin, []string{"serve", "--config", conf}, berthEnv, addr)
	compareSnapshots(t, "berth after gc", takeSnapshot(t, addr, digests), before)
	pullAll("berth after gc")
	c.crane("validate", "--remote", c.ref("app/new", newImg))
	stop()

	// Rollback: Distribution serves its directory as before.
	if err := os.RemoveAll(filepath.Join(root, "docker/registry/v2/repositories/app/oci/_manifests/tags/dangling")); err != nil {
		t.Fatal(err)
	}
	stop = startDist()
	after := takeSnapshot(t, addr, digests)
	compareSnapshots(t, "distribution after berth", after, before)
	pullAll("distribution after berth")
	stop()
}

// TestAdoptDistributionEnv: Distribution configured by REGISTRY_*
// variables; Berth started with the same variables and no file adopts
// the storage as it starts (no `berth import`).
func TestAdoptDistributionEnv(t *testing.T) {
	if target != "berth" {
		t.Skip("adoption is Berth's: E2E_TARGET=berth")
	}
	distBin := "/usr/bin/docker-registry"
	if _, err := os.Stat(distBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (apt-get install docker-registry)", distBin, err)
		}
		t.Skipf("%s: %v", distBin, err)
	}
	testproc.Need(t, "crane")
	dir := t.TempDir()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	vars := []string{"REGISTRY_HTTP_ADDR=" + addr, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=" + filepath.Join(dir, "registry"),
		"REGISTRY_STORAGE_DELETE_ENABLED=true", "REGISTRY_LOG_LEVEL=warn"}
	// Distribution needs a file; the variables override all of it.
	conf := filepath.Join(dir, "config.yml")
	writeFile(t, conf, []byte("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /nonexistent\nhttp:\n  addr: 127.0.0.1:1\n"))
	stop := startProcess(t, distBin, []string{"serve", conf}, append(withoutEnv(os.Environ(), "AWS_CA_BUNDLE"), vars...), addr)
	c := newClients(t, &registry{Host: addr, Direct: addr})
	img := pushCraneImage(t, c, c.ref("team/app", "v1"), 4<<10)
	stop()
	env := append(os.Environ(), vars...)
	env = append(env, "BERTH_LOG_LEVEL=info", "REGISTRY_CONFIGURATION_PATH=") // no file: registry:2's defaults and the variables
	stop = startProcess(t, serverBin, []string{"serve"}, env, addr)
	c.crane("validate", "--remote", c.ref("team/app", "v1"))
	if got := getManifest(t, addr, "team/app", "v1"); got.Digest != img {
		t.Errorf("team/app:v1 is %s, want %s", got.Digest, img)
	}
	stop()
}

// TestAdoptDistributionS3: the same on S3 (MinIO): Distribution 2.8's S3
// driver stores the images, Berth serves them from the same bucket (its
// own objects under <rootdirectory>/berth), then Distribution again.
func TestAdoptDistributionS3(t *testing.T) {
	if target != "berth" {
		t.Skip("adoption is Berth's: E2E_TARGET=berth")
	}
	distBin := "/usr/bin/docker-registry"
	if _, err := os.Stat(distBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (apt-get install docker-registry)", distBin, err)
		}
		t.Skipf("%s: %v", distBin, err)
	}
	testproc.Need(t, "crane")
	s3 := s3test.Start(t) // also clears AWS_* (Distribution 2.8 panics with AWS_CA_BUNDLE)
	dir := t.TempDir()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conf := filepath.Join(dir, "config.yml")
	writeFile(t, conf, []byte(fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: %s
    secretkey: %s
    region: %s
    regionendpoint: %s
    bucket: %s
    secure: false
    rootdirectory: /dist
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`, s3.AccessKey, s3.SecretKey, s3.Region, s3.Endpoint, s3.Bucket, addr)))
	env := os.Environ()
	stop := startProcess(t, distBin, []string{"serve", conf}, env, addr)
	c := newClients(t, &registry{Host: addr, Direct: addr})
	old := pushCraneImage(t, c, c.ref("s3/app", "v1"), 3<<10, 5<<10)
	img := pushCraneImage(t, c, c.ref("s3/app", "v1"), 7<<10) // the old one stays, untagged
	c.crane("index", "append", "-t", c.ref("s3/app", "multi"), "-m", c.ref("s3/app", img), "-m", c.ref("s3/app", old))
	digests := map[string][]string{"s3/app": {old, img}}
	before := takeSnapshot(t, addr, digests)
	stop()

	// The metadata database (SQLite) lives in Berth's data directory, which
	// an S3 configuration does not name (./data by default).
	berthEnv := append(env, "BERTH_LOG_LEVEL=warn", "BERTH_DATA="+filepath.Join(dir, "berth-data"))
	stop = startProcess(t, serverBin, []string{"registry", "serve", conf}, berthEnv, addr)
	compareSnapshots(t, "berth on s3", takeSnapshot(t, addr, digests), before)
	for _, ref := range []string{c.ref("s3/app", "v1"), c.ref("s3/app", old), c.ref("s3/app", "multi")} {
		c.crane("validate", "--remote", ref) // blobs by redirect to presigned URLs of Distribution's objects
	}
	pushCraneImage(t, c, c.ref("s3/new", "v1"), 2<<10)
	stop()

	stop = startProcess(t, distBin, []string{"serve", conf}, env, addr)
	compareSnapshots(t, "distribution after berth", takeSnapshot(t, addr, digests), before)
	c.crane("validate", "--remote", c.ref("s3/app", "v1"))
	stop()
}
