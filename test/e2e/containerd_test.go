package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/enginetest"
)

// containerd (Debian's 1.6) against Berth with ctr: a private containerd
// per test (internal/enginetest); pulls unpack into its default
// snapshotter. Images to pull are made in an OCI layout and pushed with
// skopeo.

// Access control off: ctr pulls an image pushed with skopeo and pushes it
// to another repository with --plain-http, and pulls a docker.io name
// through a hosts.toml mirror, which sends ?ns=docker.io.
func TestContainerdPullPush(t *testing.T) {
	reg, up := startMirroring(t)
	ctd := enginetest.StartContainerd(t)
	c := newClients(t, reg)
	t.Run("pull-push", func(t *testing.T) { testCtrPullPush(t, c.forT(t), ctd, "e2e", "") })
	t.Run("hosts-mirror", func(t *testing.T) {
		needMirror(t)
		testCtrHostsMirror(t, ctd, reg, up)
	})
}

// Access control on (token authentication): ctr pulls and pushes with
// --user (a developer, then a robot); a wrong password, or none, is
// refused; the hosts.toml mirror serves anonymous pulls through a public
// project. The upstream is selected by ?ns= only (no mirror mode): the
// token containerd fetches must come from the challenge's scope.
func TestContainerdTokenAuth(t *testing.T) {
	needMirror(t)
	up := startRegistry(t)
	reg, robot, secret := startAuthRegistryEnv(t, []string{
		`BERTH_PROXY_UPSTREAMS=[{name: hub, url: "http://` + up.Host + `", namespaces: [docker.io]}]`})
	reg.admin(t, "POST", "/api/v1/projects", `{"name":"hub","public":true}`, http.StatusCreated)
	ctd := enginetest.StartContainerd(t)
	c := newClients(t, reg)
	from := len(reg.Requests())
	t.Run("pull-push", func(t *testing.T) {
		testCtrPullPush(t, c.forT(t), ctd, "team", "dev:"+e2eDevPassword)
		usedTokens(t, reg, from)
	})
	t.Run("robot", func(t *testing.T) {
		ref := reg.Host + "/team/ctr:v1"
		ctd.Ctr(t, "-n", "robot", "image", "pull", "--plain-http", "--user", robot+":"+secret, ref)
		ctd.Ctr(t, "-n", "robot", "image", "tag", ref, reg.Host+"/team/ctr-robot:v1")
		ctd.Ctr(t, "-n", "robot", "image", "push", "--plain-http", "--user", robot+":"+secret, reg.Host+"/team/ctr-robot:v1")
	})
	t.Run("refused", func(t *testing.T) {
		ref := reg.Host + "/team/ctr:v1"
		for _, user := range []string{"", "dev:wrong-password"} {
			args := []string{"-n", "refused", "image", "pull", "--plain-http"}
			if user != "" {
				args = append(args, "--user", user)
			}
			ctrRefused(t, ctd.Exec(append(args, ref)...), fmt.Sprintf("pull with user %q", user))
		}
		// An image in the namespace to push: the one the robot pulled.
		ctd.Ctr(t, "-n", "robot", "image", "tag", ref, reg.Host+"/team/ctr-anonymous:v1")
		ctrRefused(t, ctd.Exec("-n", "robot", "image", "push", "--plain-http", reg.Host+"/team/ctr-anonymous:v1"), "anonymous push")
		ctrRefused(t, ctd.Exec("-n", "robot", "image", "push", "--plain-http", "--user", "dev:wrong-password", reg.Host+"/team/ctr-anonymous:v1"),
			"push with a wrong password")
	})
	t.Run("hosts-mirror", func(t *testing.T) { testCtrHostsMirror(t, ctd, reg, up) })
}

// testCtrPullPush pushes an image into project/ctr:v1 with skopeo, pulls it
// with ctr (user "" for none), checks its digest, and pushes it to
// project/ctr-pushed:v1, which Berth then serves with the same digest.
func testCtrPullPush(t *testing.T, c *clients, ctd *enginetest.Containerd, project, user string) {
	layout := filepath.Join(c.dir, "layout")
	img := writeImage(t, layout, "v1", platform{OS: "linux", Architecture: runtime.GOARCH}, randomTar(t, 256<<10), randomTar(t, 16<<10))
	copyArgs := []string{"copy", "--dest-tls-verify=false"}
	if user != "" {
		copyArgs = append(copyArgs, "--dest-creds", user)
	}
	c.skopeo(append(copyArgs, "oci:"+layout+":v1", "docker://"+c.ref(project+"/ctr", "v1"))...)

	userArgs := []string{"--plain-http"}
	if user != "" {
		userArgs = append(userArgs, "--user", user)
	}
	ns := "pull-" + project
	ref := c.reg.Host + "/" + project + "/ctr:v1"
	mark := len(c.reg.Requests())
	ctd.Ctr(t, append(append([]string{"-n", ns, "image", "pull"}, userArgs...), ref)...)
	if got := ctd.ImageDigest(t, ns, ref); got != img.ManifestDigest {
		t.Fatalf("ctr pulled %s as %s, pushed %s", ref, got, img.ManifestDigest)
	}
	checkBlobGETs(t, c.reg, mark, append(slices.Clone(img.Layers), descriptor{Digest: img.ConfigDigest}))

	pushed := c.reg.Host + "/" + project + "/ctr-pushed:v1"
	ctd.Ctr(t, "-n", ns, "image", "tag", ref, pushed)
	ctd.Ctr(t, append(append([]string{"-n", ns, "image", "push"}, userArgs...), pushed)...)
	res := c.reg.do(t, http.MethodHead, "/v2/"+project+"/ctr-pushed/manifests/v1", adminHeader(http.Header{"Accept": {allManifestTypes}}), nil)
	if res.Status != http.StatusOK || res.Header.Get("Docker-Content-Digest") != img.ManifestDigest {
		t.Fatalf("after ctr push, HEAD %s/ctr-pushed:v1: want 200 with digest %s, got\n%s", project, img.ManifestDigest, res)
	}
}

// testCtrHostsMirror pushes library/alpine:<unique tag> into the upstream
// and has ctr pull docker.io/library/alpine:<tag> with a hosts.toml that
// makes Berth docker.io's mirror: containerd sends ?ns=docker.io, Berth
// answers OCI-Namespace and fetches from its upstream, the image has the
// upstream's digest, and Berth keeps it in its cache (project hub).
func testCtrHostsMirror(t *testing.T, ctd *enginetest.Containerd, reg, up *registry) {
	c := newClients(t, up)
	tag := "e2e-" + randomHex(8)
	layout := filepath.Join(c.dir, "layout")
	img := writeImage(t, layout, tag, platform{OS: "linux", Architecture: runtime.GOARCH}, randomTar(t, 64<<10))
	c.skopeo("copy", "--dest-tls-verify=false", "oci:"+layout+":"+tag, "docker://"+c.ref("library/alpine", tag))

	hosts := filepath.Join(t.TempDir(), "hosts")
	// docker.io's own server stays the fallback, unreachable here: the
	// pull works only through the mirror.
	writeFile(t, filepath.Join(hosts, "docker.io", "hosts.toml"), []byte(fmt.Sprintf(
		"server = \"https://registry-1.docker.io\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", reg.Host)))
	ref := "docker.io/library/alpine:" + tag
	mark := len(reg.Requests())
	ctd.Ctr(t, "-n", "mirror", "image", "pull", "--hosts-dir", hosts, ref)
	if got := ctd.ImageDigest(t, "mirror", ref); got != img.ManifestDigest {
		t.Fatalf("ctr pulled %s through the mirror as %s, upstream has %s", ref, got, img.ManifestDigest)
	}
	if recs := reg.Requests(); len(recs) > 0 {
		ok := false
		for _, r := range requestsSince(recs, mark) {
			if strings.HasPrefix(r.URI, "/v2/library/alpine/manifests/") && strings.Contains(r.URI, "ns=docker.io") &&
				r.Status == http.StatusOK && r.RespHeader.Get("OCI-Namespace") == "docker.io" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("no manifest request with ?ns=docker.io answered 200 with OCI-Namespace: docker.io:\n%s",
				formatRecords(requestsSince(recs, mark)))
		}
	}
	if repos := reg.catalog(t); !slices.Contains(repos, "hub/library/alpine") {
		t.Errorf("the cache hub/library/alpine is not in the catalog %q", repos)
	}
	res := reg.do(t, http.MethodHead, "/v2/hub/library/alpine/manifests/"+img.ManifestDigest, adminHeader(http.Header{"Accept": {allManifestTypes}}), nil)
	if res.Status != http.StatusOK {
		t.Errorf("the pulled manifest is not in the cache: HEAD hub/library/alpine@%s:\n%s", img.ManifestDigest, res)
	}
}

// checkBlobGETs checks that the requests since mark downloaded each blob.
func checkBlobGETs(t *testing.T, reg *registry, mark int, blobs []descriptor) {
	t.Helper()
	recs := requestsSince(reg.Requests(), mark)
	if len(recs) == 0 {
		return // E2E_PROXY=0
	}
	for _, b := range blobs {
		found := false
		for _, r := range recs {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URI, "/blobs/"+b.Digest) && r.Status == http.StatusOK {
				found = true
			}
		}
		if !found {
			t.Errorf("blob %s was not downloaded:\n%s", b.Digest, formatRecords(recs))
		}
	}
}

// ctrRefused checks that a ctr command failed because the registry
// refused it.
func ctrRefused(t *testing.T, r enginetest.Result, what string) {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("%s succeeded:\n%s", what, r.Output())
	}
	out := strings.ToLower(r.Output())
	for _, w := range []string{"401", "403", "unauthorized", "denied", "insufficient_scope"} {
		if strings.Contains(out, w) {
			t.Logf("%s refused: %s", what, strings.TrimSpace(r.Output()))
			return
		}
	}
	t.Fatalf("%s failed, but not as refused by the registry: %v\n%s", what, r.Err, r.Output())
}
