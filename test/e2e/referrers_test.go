package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

const (
	artifactTypeSBOM = "application/vnd.berth.e2e.sbom"
	artifactTypeSig  = "application/vnd.berth.e2e.signature"
	mtSBOMFile       = "application/vnd.berth.e2e.sbom.file+json"
	mtSigFile        = "application/vnd.berth.e2e.signature.file"
)

// Scenario 7: oras pushes an artifact with an artifact type, attaches a
// signature-like artifact to an image through the referrers API (no tag
// fallback), and finds it with oras discover and the raw referrers API.
// Distribution 2.8 has no referrers API: the attach/discover subtests fail
// against it.
func TestOrasArtifactsAndReferrers(t *testing.T) {
	testproc.Need(t, "oras")
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	const repo = "oras/app"
	work := t.TempDir()

	t.Run("push-artifact", func(t *testing.T) {
		c := c.forT(t)
		// oras records a file's path in its title annotation: name it
		// relative to the commands' working directory.
		sbom := filepath.Join(c.dir, "sbom.json")
		writeFile(t, sbom, []byte(`{"e2e":"sbom","id":"`+filepath.Base(work)+`"}`))
		exported := filepath.Join(work, "pushed.json")
		c.oras("push", "--artifact-type", artifactTypeSBOM, "--export-manifest", exported,
			c.ref(repo, "sbom"), "sbom.json:"+mtSBOMFile)
		want := readFile(t, exported)
		m, res := reg.mustManifest(t, repo, "sbom")
		if sha256Digest(res.Body) != sha256Digest(want) {
			t.Errorf("registry has %s under sbom, oras pushed %s", sha256Digest(res.Body), sha256Digest(want))
		}
		if m.MediaType != mtOCIManifest || m.ArtifactType != artifactTypeSBOM {
			t.Errorf("artifact manifest mediaType %q artifactType %q, want %s / %s", m.MediaType, m.ArtifactType, mtOCIManifest, artifactTypeSBOM)
		}
		if m.Config == nil || m.Config.MediaType != mtOCIEmpty || len(m.Layers) != 1 || m.Layers[0].MediaType != mtSBOMFile {
			t.Errorf("artifact manifest config %+v layers %+v", m.Config, m.Layers)
		}
		// oras pull gets the file back.
		out := filepath.Join(t.TempDir(), "pulled")
		c.oras("pull", "-o", out, c.ref(repo, "sbom"))
		if got, want := string(readFile(t, filepath.Join(out, "sbom.json"))), string(readFile(t, sbom)); got != want {
			t.Errorf("oras pull: sbom.json is %q, want %q", got, want)
		}
	})

	imageDigest := pushCraneImage(t, c, c.ref(repo, "v1"), 4<<10)
	var sigDigest string

	t.Run("attach", func(t *testing.T) {
		c := c.forT(t)
		sig := filepath.Join(c.dir, "sig.txt")
		writeFile(t, sig, []byte("signature over "+imageDigest+"\n"))
		exported := filepath.Join(work, "sig-manifest.json")
		before := len(reg.Requests())
		c.oras("attach", "--distribution-spec", "v1.1-referrers-api", "--artifact-type", artifactTypeSig,
			"--annotation", "org.berth.e2e=signature", "--export-manifest", exported,
			c.ref(repo, imageDigest), "sig.txt:"+mtSigFile)
		raw := readFile(t, exported)
		sigDigest = sha256Digest(raw)
		m, _ := reg.mustManifest(t, repo, sigDigest)
		if m.Subject == nil || m.Subject.Digest != imageDigest || m.ArtifactType != artifactTypeSig {
			t.Errorf("attached manifest subject %+v artifactType %q", m.Subject, m.ArtifactType)
		}
		// The server acknowledged the subject (spec: OCI-Subject header on
		// the manifest PUT).
		for _, r := range requestsSince(reg.Requests(), before) {
			if r.Method == http.MethodPut && strings.Contains(r.URI, "/manifests/") {
				if got := r.RespHeader.Get("OCI-Subject"); got != imageDigest {
					t.Errorf("PUT of a manifest with a subject: OCI-Subject %q, want %s (%s)", got, imageDigest, r)
				}
			}
		}
	})

	t.Run("discover", func(t *testing.T) {
		if sigDigest == "" {
			t.Skip("attach failed")
		}
		c := c.forT(t)
		out := c.oras("discover", "--distribution-spec", "v1.1-referrers-api", "--format", "json",
			c.ref(repo, imageDigest))
		found := discoveredReferrers(t, out)
		if found[sigDigest] != artifactTypeSig {
			t.Errorf("oras discover: want %s (%s), found %v\n%s", sigDigest, artifactTypeSig, found, out)
		}
		out = c.oras("discover", "--distribution-spec", "v1.1-referrers-api", "--format", "json",
			"--artifact-type", artifactTypeSBOM, c.ref(repo, imageDigest))
		if found := discoveredReferrers(t, out); len(found) != 0 {
			t.Errorf("oras discover --artifact-type %s: want none, found %v", artifactTypeSBOM, found)
		}
	})

	t.Run("referrers-api", func(t *testing.T) {
		if sigDigest == "" {
			t.Skip("attach failed")
		}
		res := reg.do(t, http.MethodGet, "/v2/"+repo+"/referrers/"+imageDigest, nil, nil)
		idx := checkReferrersIndex(t, res, sigDigest, artifactTypeSig)
		for _, d := range idx.Manifests {
			if d.Digest == sigDigest && d.Annotations["org.berth.e2e"] != "signature" {
				t.Errorf("referrers descriptor lacks the manifest's annotations: %+v", d)
			}
		}
		// Filtered by artifact type (a registry MAY filter; if it does it
		// says so in OCI-Filters-Applied).
		res = reg.do(t, http.MethodGet, "/v2/"+repo+"/referrers/"+imageDigest+"?artifactType="+url.QueryEscape(artifactTypeSBOM), nil, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET referrers ?artifactType=: want 200, got\n%s", res)
		}
		if res.Header.Get("OCI-Filters-Applied") == "artifactType" {
			if m := parseManifest(t, res.Body); len(m.Manifests) != 0 {
				t.Errorf("filtered referrers list %v, want empty", m.Manifests)
			}
		}
		// A digest nothing refers to: 200 with an empty index.
		none := sha256Digest([]byte("no referrers " + imageDigest))
		res = reg.do(t, http.MethodGet, "/v2/"+repo+"/referrers/"+none, nil, nil)
		if res.Status != http.StatusOK || len(parseManifest(t, res.Body).Manifests) != 0 {
			t.Errorf("GET referrers of an unreferenced digest: want 200 with no manifests, got\n%s", res)
		}
		// No tag-scheme fallback was written.
		for _, tag := range reg.tags(t, repo) {
			if strings.HasPrefix(tag, "sha256-") {
				t.Errorf("tag %q: a referrers fallback tag was created", tag)
			}
		}
	})
}

// checkReferrersIndex checks a referrers response is an OCI index listing
// want with its artifact type.
func checkReferrersIndex(t testing.TB, res httpResult, want, artifactType string) manifest {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("GET referrers: want 200, got\n%s", res)
	}
	if ct := res.Header.Get("Content-Type"); ct != mtOCIIndex {
		t.Errorf("GET referrers: Content-Type %q, want %s", ct, mtOCIIndex)
	}
	idx := parseManifest(t, res.Body)
	if idx.SchemaVersion != 2 || idx.MediaType != mtOCIIndex {
		t.Errorf("referrers index: schemaVersion %d mediaType %q", idx.SchemaVersion, idx.MediaType)
	}
	if !slices.ContainsFunc(idx.Manifests, func(d descriptor) bool {
		return d.Digest == want && d.ArtifactType == artifactType && d.MediaType == mtOCIManifest && d.Size > 0
	}) {
		t.Errorf("referrers index lacks %s with artifactType %s:\n%s", want, artifactType, res.Body)
	}
	return idx
}

// discoveredReferrers maps digest -> artifact type of every referrer in
// `oras discover --format json` output, at any depth.
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
				m, _ := e.(map[string]any)
				if m == nil {
					continue
				}
				d, _ := m["digest"].(string)
				at, _ := m["artifactType"].(string)
				found[d] = at
				walk(m)
			}
		}
	}
	walk(root)
	return found
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
