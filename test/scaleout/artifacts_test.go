package scaleout

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/testproc"
)

// regctl through nginx, trusting the CA with `registry set --cacert`, with
// blobs pushed in 1 MiB chunks (so that a blob's PATCHes land on both
// instances): import an image from a docker archive, copy it to another
// repository, and pull it into an OCI layout that names the pushed digest.
func testRegctl(t *testing.T, c *cluster) {
	testproc.Need(t, "regctl")
	testproc.Need(t, "crane") // makes the image to push
	tl := newTools(t, c)
	ca, err := os.ReadFile(c.caFile)
	if err != nil {
		t.Fatal(err)
	}
	tl.run(t, "regctl", "registry", "set", c.host, "--cacert", string(ca),
		"--blob-chunk", "1048576", "--blob-max", "1048576")
	archive := filepath.Join(tl.dir, "image.tar")
	tl.run(t, "crane", "append", "--oci-empty-base", "-t", "local/regctl:v1",
		"-f", layerTar(t, tl.dir, 3<<20, 30), "-o", archive)
	ref := c.host + "/scaleout/regctl:v1"
	mark := c.logMark(t)
	tl.run(t, "regctl", "image", "import", ref, archive)
	if c.checkSplit(t, mark, "regctl image import") == 0 {
		t.Error("regctl's chunked uploads stayed on the instance that started them")
	}
	dgst := strings.TrimSpace(tl.run(t, "regctl", "image", "digest", ref))
	if !strings.HasPrefix(dgst, "sha256:") {
		t.Fatalf("regctl image digest printed %q", dgst)
	}
	cp := c.host + "/scaleout/regctl-copy:v1"
	tl.run(t, "regctl", "image", "copy", ref, cp)
	if got := strings.TrimSpace(tl.run(t, "regctl", "image", "digest", cp)); got != dgst {
		t.Fatalf("copied image has digest %s, want %s", got, dgst)
	}
	layout := filepath.Join(tl.dir, "pulled")
	tl.run(t, "regctl", "image", "copy", cp, "ocidir://"+layout+":v1")
	if n := checkLayout(t, layout); n != 3 {
		t.Errorf("pulled %d blobs, want 3", n)
	}
	var index struct{ Manifests []struct{ Digest string } }
	if err := json.Unmarshal(readFile(t, filepath.Join(layout, "index.json")), &index); err != nil ||
		len(index.Manifests) != 1 || index.Manifests[0].Digest != dgst {
		t.Errorf("pulled layout's index.json names %+v, want %s (%v)", index.Manifests, dgst, err)
	}
}

const (
	artifactTypeSBOM = "application/vnd.berth.scaleout.sbom"
	artifactTypeSig  = "application/vnd.berth.scaleout.signature"
)

// oras through nginx, trusting the CA with --ca-file: push an artifact,
// attach a signature to it through the referrers API, find the signature
// with oras discover, and pull both back.
func testOras(t *testing.T, c *cluster) {
	oras := func(tl *tools, args ...string) string {
		t.Helper()
		return tl.run(t, "oras", append(args, "--ca-file", c.caFile)...)
	}
	testproc.Need(t, "oras")
	tl := newTools(t, c)
	const repo = "/scaleout/oras"
	// oras records a file's path in its title annotation: name files
	// relative to the working directory.
	sbom := `{"sbom":"` + filepath.Base(tl.dir) + `"}`
	writeFile(t, filepath.Join(tl.dir, "sbom.json"), sbom)
	ref := c.host + repo + ":sbom"
	mark := c.logMark(t)
	oras(tl, "push", "--artifact-type", artifactTypeSBOM, "--export-manifest", "sbom-manifest.json",
		ref, "sbom.json:application/json")
	c.checkSplit(t, mark, "oras push")
	subject := digest.FromBytes(readFile(t, filepath.Join(tl.dir, "sbom-manifest.json"))).String()
	if got := strings.TrimSpace(oras(tl, "resolve", ref)); got != subject {
		t.Fatalf("oras resolve: %s, oras pushed %s", got, subject)
	}

	sig := "signature over " + subject + "\n"
	writeFile(t, filepath.Join(tl.dir, "sig.txt"), sig)
	mark = c.logMark(t)
	oras(tl, "attach", "--distribution-spec", "v1.1-referrers-api", "--artifact-type", artifactTypeSig,
		"--export-manifest", "sig-manifest.json", c.host+repo+"@"+subject, "sig.txt:text/plain")
	c.checkSplit(t, mark, "oras attach")
	sigDigest := digest.FromBytes(readFile(t, filepath.Join(tl.dir, "sig-manifest.json"))).String()
	out := oras(tl, "discover", "--distribution-spec", "v1.1-referrers-api", "--format", "json", c.host+repo+"@"+subject)
	if found := discoveredReferrers(t, out); found[sigDigest] != artifactTypeSig {
		t.Errorf("oras discover: want %s (%s), found %v\n%s", sigDigest, artifactTypeSig, found, out)
	}

	for _, p := range []struct{ ref, file, want string }{
		{ref, "sbom.json", sbom},
		{c.host + repo + "@" + sigDigest, "sig.txt", sig},
	} {
		dir := t.TempDir()
		oras(tl, "pull", "-o", dir, p.ref)
		if got := string(readFile(t, filepath.Join(dir, p.file))); got != p.want {
			t.Errorf("oras pull %s: %s is %q, want %q", p.ref, p.file, got, p.want)
		}
	}
}

// discoveredReferrers returns digest -> artifact type of every referrer in
// oras discover --format json output (a tree: "manifests" or "referrers").
func discoveredReferrers(t testing.TB, out string) map[string]string {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal([]byte(out), &root); err != nil {
		t.Fatalf("oras discover output: %v\n%s", err, out)
	}
	found := map[string]string{}
	var walk func(node map[string]any)
	walk = func(node map[string]any) {
		for _, key := range []string{"manifests", "referrers"} {
			list, _ := node[key].([]any)
			for _, e := range list {
				if m, _ := e.(map[string]any); m != nil {
					d, _ := m["digest"].(string)
					at, _ := m["artifactType"].(string)
					found[d] = at
					walk(m)
				}
			}
		}
	}
	walk(root)
	return found
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
