package e2e

import (
	"net/http"
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// Scenario 5: a manifest deleted by digest with each client is gone (404
// MANIFEST_UNKNOWN by digest and by its former tag) and its tag is no
// longer listed; another tag in the repository is untouched.
func TestDeleteByDigest(t *testing.T) {
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)

	cases := []struct {
		tool   string
		delete func(c *clients, ref string)
	}{
		{"crane", func(c *clients, ref string) { c.crane("delete", ref) }},
		{"regctl", func(c *clients, ref string) { c.regctl("manifest", "delete", ref) }},
		{"skopeo", func(c *clients, ref string) { c.skopeo("delete", "--tls-verify=false", "docker://"+ref) }},
	}
	for _, tc := range cases {
		t.Run(tc.tool, func(t *testing.T) {
			testproc.Need(t, tc.tool)
			c := c.forT(t)
			repo := "del/" + tc.tool
			keep := pushCraneImage(t, c, c.ref(repo, "keep"), 8<<10)
			doomed := pushCraneImage(t, c, c.ref(repo, "doomed"), 8<<10)
			// A second tag on the doomed manifest goes with it.
			c.crane("tag", c.ref(repo, "doomed"), "doomed-too")
			if got := reg.tags(t, repo); !slices.Equal(got, []string{"doomed", "doomed-too", "keep"}) {
				t.Fatalf("tags before delete: %v", got)
			}

			tc.delete(c, c.ref(repo, doomed))

			expectError(t, "GET deleted manifest by digest", reg.getManifest(t, repo, doomed),
				http.StatusNotFound, "MANIFEST_UNKNOWN")
			expectError(t, "GET deleted manifest's tag", reg.getManifest(t, repo, "doomed"),
				http.StatusNotFound, "MANIFEST_UNKNOWN")
			if res := reg.do(t, http.MethodHead, "/v2/"+repo+"/manifests/"+doomed,
				http.Header{"Accept": {allManifestTypes}}, nil); res.Status != http.StatusNotFound {
				t.Errorf("HEAD deleted manifest: want 404, got %d", res.Status)
			}
			if got := reg.tags(t, repo); !slices.Equal(got, []string{"keep"}) {
				t.Errorf("tags/list after delete: %v, want [keep]", got)
			}
			if got := lines(c.crane("ls", reg.Host+"/"+repo)); !slices.Equal(got, []string{"keep"}) {
				t.Errorf("crane ls after delete: %v, want [keep]", got)
			}
			// The other manifest is intact.
			if _, res := reg.mustManifest(t, repo, "keep"); sha256Digest(res.Body) != keep {
				t.Errorf("keep now names %s, want %s", sha256Digest(res.Body), keep)
			}
			// Deleting again is a 404.
			res := reg.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/"+doomed, nil, nil)
			expectError(t, "DELETE deleted manifest again", res, http.StatusNotFound, "MANIFEST_UNKNOWN")
		})
	}
}
