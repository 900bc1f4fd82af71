package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/enginetest"
	"github.com/berth-registry/berth/internal/testproc"
)

// Signature policies (docs/signing.md) with the real cosign CLI: a project
// with an enforce rule trusting one cosign key serves the images that key
// signed (tag scheme, Sigstore bundle referrers, cosign signatures as
// referrers, a signed index and its children) to crane, skopeo and the
// Docker daemon, and refuses the unsigned one, one signed by another key
// and one next to which a valid signature of another image was copied,
// with DENIED naming the rule and the reason. Signature tags
// stay pullable; audit mode serves everything; removing the key or
// signing later changes the answer (no stale cached result).
func TestSignaturePolicy(t *testing.T) {
	needBerth(t)
	testproc.Need(t, "cosign")
	testproc.Need(t, "crane")
	testproc.Need(t, "skopeo")
	reg := startRegistry(t)
	c := newClients(t, reg)
	c.env = append(c.env, "COSIGN_PASSWORD=e2e-cosign-password", "COSIGN_EXPERIMENTAL=1")
	c.cosign("generate-key-pair")
	other := c.forT(t)
	other.dir = t.TempDir()
	other.cosign("generate-key-pair")
	const project, repo = "signed", "signed/app"

	pub, err := os.ReadFile(filepath.Join(c.dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	var key struct {
		ID int64 `json:"id"`
	}
	reg.api(t, "POST", "/projects/"+project+"/signing/keys", jsonBody(map[string]string{"name": "release", "kind": "cosign-key", "data": string(pub)}), 201, &key)
	// A rule naming a key the project does not have is refused.
	reg.api(t, "POST", "/projects/"+project+"/signing/rules", `{"repositories":"**","mode":"enforce","cosign_keys":["nope"]}`, 400, nil)

	tagSigned := pushCraneImage(t, c, c.ref(repo, "tag-signed"), 4<<10)
	c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", c.ref(repo, tagSigned))
	bundled := pushCraneImage(t, c, c.ref(repo, "bundled"), 4<<10)
	c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--new-bundle-format", c.ref(repo, bundled))
	referred := pushCraneImage(t, c, c.ref(repo, "referred"), 4<<10)
	c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--registry-referrers-mode=oci-1-1", c.ref(repo, referred))
	unsigned := pushCraneImage(t, c, c.ref(repo, "unsigned"), 4<<10)
	otherSigned := pushCraneImage(t, c, c.ref(repo, "other-key"), 4<<10)
	other.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", c.ref(repo, otherSigned))
	copied := pushCraneImage(t, c, c.ref(repo, "copied"), 4<<10)
	c.crane("copy", c.ref(repo, sigTag(tagSigned)), c.ref(repo, sigTag(copied)))
	elsewhere := pushCraneImage(t, c, c.ref("signed/tools", "x"), 4<<10) // no rule covers signed/tools
	// A signed index and an unsigned one, by crane index append; cosign
	// signs the index only.
	amd, arm, lone := pushCraneImage(t, c, c.ref(repo, "amd64"), 4<<10), pushCraneImage(t, c, c.ref(repo, "arm64"), 4<<10),
		pushCraneImage(t, c, c.ref(repo, "lone"), 4<<10)
	c.crane("index", "append", "-m", c.ref(repo, amd), "-m", c.ref(repo, arm), "-t", c.ref(repo, "multi"))
	multi := strings.TrimSpace(c.crane("digest", c.ref(repo, "multi")))
	c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", c.ref(repo, multi))
	c.crane("index", "append", "-m", c.ref(repo, lone), "-t", c.ref(repo, "multi-unsigned"))
	// The rule comes after the signing: cosign reads the image it signs,
	// which an enforce rule refuses to all but exempt callers (CI robots).
	var rule struct {
		ID int64 `json:"id"`
	}
	reg.api(t, "POST", "/projects/"+project+"/signing/rules", `{"repositories":"app","mode":"enforce","cosign_keys":["release"]}`, 201, &rule)

	allowed := func(t *testing.T, digest string) {
		t.Helper()
		c.crane("manifest", c.ref(repo, digest))
		c.skopeo("inspect", "--raw", "--tls-verify=false", "docker://"+c.ref(repo, digest))
	}
	denied := func(t *testing.T, digest, why string) {
		t.Helper()
		r := c.exec(runOpts{}, "crane", "manifest", c.ref(repo, digest))
		if r.Err == nil || !strings.Contains(r.Stderr, "DENIED") || !strings.Contains(r.Stderr, why) {
			t.Fatalf("crane manifest %s: err %v, want DENIED %q:\n%s", digest, r.Err, why, truncate(r.Stderr, 2000))
		}
		r = c.exec(runOpts{}, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+c.ref(repo, digest))
		if r.Err == nil || !strings.Contains(r.Stderr, "denied") {
			t.Fatalf("skopeo inspect %s: err %v, want denied:\n%s", digest, r.Err, truncate(r.Stderr, 2000))
		}
	}

	t.Run("enforce", func(t *testing.T) {
		waitIdle(t, reg, project, repo, tagSigned)
		allowed(t, tagSigned)
		allowed(t, bundled)
		allowed(t, referred)
		denied(t, unsigned, "no signature")
		denied(t, otherSigned, "untrusted key")
		denied(t, copied, "digest mismatch")
		// A signed index covers its children pulled by digest.
		allowed(t, multi)
		allowed(t, amd)
		allowed(t, arm)
		denied(t, lone, "no signature")
		// A whole image through skopeo copy, and a repository no rule covers.
		c.skopeo("copy", "--src-tls-verify=false", "docker://"+c.ref(repo, tagSigned), "oci:"+filepath.Join(t.TempDir(), "out")+":x")
		c.crane("manifest", c.ref("signed/tools", elsewhere))
		// Signatures themselves stay pullable.
		c.crane("manifest", c.ref(repo, sigTag(tagSigned)))
		c.crane("manifest", c.ref(repo, sigTag(otherSigned)))
		// cosign verify still works through the gate.
		verified(t, c.cosign("verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", c.ref(repo, tagSigned)), tagSigned)
	})

	t.Run("docker", func(t *testing.T) {
		d := enginetest.StartDocker(t, enginetest.DockerOptions{InsecureRegistries: []string{reg.Host}})
		d.Run(t, "pull", c.ref(repo, tagSigned))
		r := d.Exec(nil, "pull", c.ref(repo, "unsigned"))
		refusedByRegistry(t, r, "docker pull of an unsigned image")
		if !strings.Contains(r.Output(), "no signature") {
			t.Fatalf("docker pull does not say why:\n%s", r.Output())
		}
	})

	t.Run("status", func(t *testing.T) {
		var st struct {
			Rules []struct {
				Met        bool   `json:"met"`
				Reason     string `json:"reason"`
				Signatures []struct {
					Format string `json:"format"`
					Valid  bool   `json:"valid"`
					Signer string `json:"signer"`
				} `json:"signatures"`
			} `json:"rules"`
		}
		reg.api(t, "GET", "/projects/"+project+"/signing/status?repository="+repo+"&digest="+bundled, "", 200, &st)
		if len(st.Rules) != 1 || !st.Rules[0].Met || len(st.Rules[0].Signatures) != 1 ||
			st.Rules[0].Signatures[0].Format != "sigstore-bundle" || st.Rules[0].Signatures[0].Signer != "key:release" {
			t.Fatalf("status of the bundle-signed image: %+v", st)
		}
		reg.api(t, "POST", "/projects/"+project+"/signing/verify?repository="+repo+"&digest="+copied, "", 200, &st)
		if st.Rules[0].Met || !strings.HasPrefix(st.Rules[0].Reason, "digest mismatch") {
			t.Fatalf("status of the image with a copied signature: %+v", st)
		}
	})

	t.Run("signed later", func(t *testing.T) {
		// The same image in a repository no rule covers, signed there; its
		// signature is then promoted next to the copy in signed/app.
		late := pushCraneImage(t, c, c.ref("signed/staging", "late"), 4<<10)
		c.crane("copy", c.ref("signed/staging", late), c.ref(repo, "late"))
		denied(t, late, "no signature") // and the refusal is stored
		c.cosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", c.ref("signed/staging", late))
		c.crane("copy", c.ref("signed/staging", sigTag(late)), c.ref(repo, sigTag(late)))
		waitIdle(t, reg, project, repo, late)
		allowed(t, late)
	})

	t.Run("audit", func(t *testing.T) {
		reg.api(t, "PUT", fmt.Sprintf("/projects/%s/signing/rules/%d", project, rule.ID), `{"repositories":"app","mode":"audit","cosign_keys":["release"]}`, 200, nil)
		allowed(t, unsigned)
		allowed(t, otherSigned)
		reg.api(t, "PUT", fmt.Sprintf("/projects/%s/signing/rules/%d", project, rule.ID), `{"repositories":"app","mode":"enforce","cosign_keys":["release"]}`, 200, nil)
		denied(t, unsigned, "no signature")
	})

	t.Run("key removed", func(t *testing.T) {
		allowed(t, tagSigned)
		reg.api(t, "DELETE", fmt.Sprintf("/projects/%s/signing/keys/%d", project, key.ID), "", 204, nil)
		denied(t, tagSigned, "untrusted key")
		reg.api(t, "DELETE", fmt.Sprintf("/projects/%s/signing/rules/%d", project, rule.ID), "", 204, nil)
		allowed(t, unsigned)
	})
}

// sigTag is cosign's signature tag of a digest.
func sigTag(digest string) string { return "sha256-" + strings.TrimPrefix(digest, "sha256:") + ".sig" }

// waitIdle waits until the verification that a pushed signature enqueued
// has stored its result (the status API answers from the stored result or
// verifies; either way the gate then agrees).
func waitIdle(t *testing.T, reg *registry, project, repo, digest string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res := reg.do(t, "GET", "/api/v1/projects/"+project+"/signing/status?repository="+repo+"&digest="+digest, nil, nil)
		if res.Status == 200 && strings.Contains(string(res.Body), `"met":true`) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never verified", digest)
}

// jsonBody encodes v as JSON.
func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
