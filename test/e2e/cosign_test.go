package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// mtCosignSig is the artifact type of cosign's signatures as referrers.
const mtCosignSig = "application/vnd.dev.cosign.artifact.sig.v1+json"

// cosign signs images with a key pair and verifies them, and attaches and
// verifies an in-toto attestation, in both of its storage schemes: tags
// beside the image (sha256-<hex>.sig and .att) and the OCI 1.1 referrers
// API. No transparency log is used: the machine reaches no Rekor.
// Distribution 2.8 has no referrers API: the referrers subtest fails
// against it.
func TestCosignSignatures(t *testing.T) {
	testproc.Need(t, "cosign")
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	c.env = append(c.env, "COSIGN_PASSWORD=e2e-cosign-password", "COSIGN_EXPERIMENTAL=1")
	c.cosign("generate-key-pair")
	const repo = "signed/app"

	t.Run("tags", func(t *testing.T) {
		c := c.forT(t)
		img := pushCraneImage(t, c, c.ref(repo, "v1"), 8<<10)
		ref := c.ref(repo, img)
		c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", ref)
		hex := strings.TrimPrefix(img, "sha256:")
		if tags := reg.tags(t, repo); !slices.Contains(tags, "sha256-"+hex+".sig") {
			t.Fatalf("tags %v: no signature tag", tags)
		}
		verified(t, c.cosign("verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", ref), img)

		writeFile(t, filepath.Join(c.dir, "predicate.json"), []byte(`{"builder":"berth-e2e"}`))
		c.cosign("attest", "--key", "cosign.key", "--tlog-upload=false", "--yes",
			"--type", "custom", "--predicate", "predicate.json", ref)
		if tags := reg.tags(t, repo); !slices.Contains(tags, "sha256-"+hex+".att") {
			t.Fatalf("tags %v: no attestation tag", tags)
		}
		out := c.cosign("verify-attestation", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--type", "custom", ref)
		if !strings.Contains(out, "payloadType") {
			t.Errorf("verify-attestation printed no envelope:\n%s", truncate(out, 2000))
		}
		tree := c.cosign("tree", ref)
		if !strings.Contains(tree, "Signatures for an image tag") || !strings.Contains(tree, "Attestations for an image tag") {
			t.Errorf("cosign tree:\n%s", tree)
		}

		// cosign clean deletes the signature (a manifest delete by tag);
		// the image is unsigned again, its attestation stays.
		c.cosign("clean", "--type", "signature", "--force", ref)
		if tags := reg.tags(t, repo); slices.Contains(tags, "sha256-"+hex+".sig") || !slices.Contains(tags, "sha256-"+hex+".att") {
			t.Fatalf("tags after cosign clean: %v", tags)
		}
		refused(t, c.exec(runOpts{}, "cosign", cosignArgs("verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", ref)...), "no signatures found")
	})

	t.Run("referrers", func(t *testing.T) {
		c := c.forT(t)
		img := pushCraneImage(t, c, c.ref(repo, "v2"), 8<<10)
		ref := c.ref(repo, img)
		c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--registry-referrers-mode=oci-1-1", ref)
		// The signature is a referrer of the image, not a tag.
		res := reg.do(t, "GET", "/v2/"+repo+"/referrers/"+img, nil, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("referrers: %d %s", res.Status, res.Body)
		}
		var idx manifest
		if err := json.Unmarshal(res.Body, &idx); err != nil {
			t.Fatal(err)
		}
		if len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != mtCosignSig {
			t.Fatalf("referrers of the signed image: %+v", idx.Manifests)
		}
		hex := strings.TrimPrefix(img, "sha256:")
		if tags := reg.tags(t, repo); slices.Contains(tags, "sha256-"+hex+".sig") {
			t.Errorf("tags %v: a signature tag in referrers mode", tags)
		}
		verified(t, c.cosign("verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--experimental-oci11", ref), img)
	})

	t.Run("refused", func(t *testing.T) {
		c := c.forT(t)
		// An image nobody signed, and a key that signed nothing here.
		img := pushCraneImage(t, c, c.ref(repo, "unsigned"), 8<<10)
		r := c.exec(runOpts{}, "cosign", cosignArgs("verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", c.ref(repo, img))...)
		refused(t, r, "no signatures found")
		other := c.forT(t)
		other.dir = t.TempDir()
		other.cosign("generate-key-pair")
		signed := pushCraneImage(t, c, c.ref(repo, "v3"), 8<<10)
		c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", c.ref(repo, signed))
		r = c.exec(runOpts{}, "cosign", cosignArgs("verify", "--key", filepath.Join(other.dir, "cosign.pub"), "--insecure-ignore-tlog=true", c.ref(repo, signed))...)
		refused(t, r, "no matching signatures")
	})
}

// refused checks that cosign failed, for the reason given.
func refused(t *testing.T, r cmdResult, why string) {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("cosign verify succeeded, want %q:\n%s", why, r.Stdout)
	}
	if !strings.Contains(r.Stderr, why) {
		t.Fatalf("cosign verify failed, but not with %q:\n%s", why, truncate(r.Stderr, 4000))
	}
}

// verified checks cosign verify's JSON: every signature is over img.
func verified(t *testing.T, out, img string) {
	t.Helper()
	start := strings.Index(out, "[")
	var sigs []struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
		} `json:"critical"`
	}
	if start < 0 || json.NewDecoder(strings.NewReader(out[start:])).Decode(&sigs) != nil || len(sigs) == 0 {
		t.Fatalf("cosign verify printed no signatures:\n%s", truncate(out, 2000))
	}
	for _, s := range sigs {
		if s.Critical.Image.Digest != img {
			t.Errorf("a signature is over %s, want %s", s.Critical.Image.Digest, img)
		}
	}
}

// cosign runs cosign against the plain-HTTP registry and returns what it
// printed (stdout, then stderr).
func (c *clients) cosign(args ...string) string {
	c.t.Helper()
	args = cosignArgs(args...)
	r := c.exec(runOpts{}, "cosign", args...)
	if r.Err != nil {
		c.t.Fatalf("cosign %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Err,
			truncate(r.Stdout, 8000), truncate(r.Stderr, 8000))
	}
	return r.Stdout + r.Stderr
}

// cosignArgs adds the flags for a plain-HTTP registry to the commands
// that talk to one.
func cosignArgs(args ...string) []string {
	switch args[0] {
	case "sign", "verify", "attest", "verify-attestation", "tree", "clean":
		return append(args, "--allow-http-registry", "--allow-insecure-registry")
	}
	return args
}
