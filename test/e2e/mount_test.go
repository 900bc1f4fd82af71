package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// Scenario 6: copies between repositories of one registry mount blobs
// instead of uploading them (crane copy and regctl image copy), and the raw
// mount request answers 201 for a blob in the source repository and 202 (a
// plain upload session) for one that is not readable there.
func TestCrossRepoBlobMount(t *testing.T) {
	testproc.Need(t, "crane")
	testproc.Need(t, "regctl")
	reg := startRegistry(t)
	c := newClients(t, reg)
	const src = "mount/src"
	digest := pushCraneImage(t, c, c.ref(src, "v1"), 64<<10, 16<<10)
	m, _ := reg.mustManifest(t, src, "v1")
	blobs := append(m.layerDigests(), m.Config.Digest)

	copies := []struct {
		tool string
		dst  string
		copy func(c *clients, from, to string)
	}{
		{"crane", "mount/crane", func(c *clients, from, to string) { c.crane("copy", from, to) }},
		{"regctl", "mount/regctl", func(c *clients, from, to string) { c.regctl("image", "copy", from, to) }},
	}
	for _, tc := range copies {
		t.Run("copy-"+tc.tool, func(t *testing.T) {
			c := c.forT(t)
			before := len(reg.Requests())
			tc.copy(c, c.ref(src, "v1"), c.ref(tc.dst, "v1"))
			if _, res := reg.mustManifest(t, tc.dst, "v1"); sha256Digest(res.Body) != digest {
				t.Fatalf("%s has %s, want %s", tc.dst, sha256Digest(res.Body), digest)
			}
			for _, d := range blobs {
				if h := reg.headBlob(t, tc.dst, d); h.Status != http.StatusOK {
					t.Errorf("HEAD %s in %s: %d", d, tc.dst, h.Status)
				}
			}
			if reg.proxy == nil {
				return
			}
			// What the client did, blob by blob: a mount answered 201,
			// and no blob data uploaded.
			recs := requestsSince(reg.Requests(), before)
			for _, d := range m.layerDigests() {
				if !slices.ContainsFunc(recs, func(r requestRecord) bool {
					return isMount(r, tc.dst, d, src) && r.Status == http.StatusCreated
				}) {
					t.Errorf("%s copy: no mount of layer %s answered 201; requests:\n%s", tc.tool, d, formatRecords(recs))
				}
			}
			for _, r := range recs {
				if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URI, "/blobs/uploads/") {
					t.Errorf("%s copy uploaded blob data instead of mounting: %s", tc.tool, r)
				}
			}
		})
	}

	// A blob that exists, but only in another repository.
	elsewhere := reg.pushBlob(t, "mount/other", []byte("only in mount/other "+digest))
	unknown := sha256Digest([]byte("never pushed " + digest))

	mounts := []struct {
		name   string
		digest string
		status int
	}{
		{"blob-in-source", m.Layers[0].Digest, http.StatusCreated},
		{"config-in-source", m.Config.Digest, http.StatusCreated},
		{"blob-only-in-other-repo", elsewhere, http.StatusAccepted},
		{"unknown-blob", unknown, http.StatusAccepted},
	}
	for _, tc := range mounts {
		t.Run("raw-"+tc.name, func(t *testing.T) {
			dst := "mount/raw-" + tc.name
			path := "/v2/" + dst + "/blobs/uploads/?mount=" + url.QueryEscape(tc.digest) + "&from=" + url.QueryEscape(src)
			res := reg.do(t, http.MethodPost, path, nil, nil)
			if res.Status != tc.status {
				t.Fatalf("POST %s: want %d, got\n%s", path, tc.status, res)
			}
			loc := res.Header.Get("Location")
			switch tc.status {
			case http.StatusCreated:
				if got := res.Header.Get("Docker-Content-Digest"); got != tc.digest {
					t.Errorf("mount: Docker-Content-Digest %q, want %s", got, tc.digest)
				}
				if !strings.Contains(loc, "/v2/"+dst+"/blobs/"+tc.digest) {
					t.Errorf("mount: Location %q, want the blob's URL in %s", loc, dst)
				}
				if h := reg.headBlob(t, dst, tc.digest); h.Status != http.StatusOK {
					t.Errorf("HEAD mounted blob: want 200, got\n%s", h)
				}
				// The mounted blob reads back intact.
				body := reg.do(t, http.MethodGet, "/v2/"+dst+"/blobs/"+tc.digest, nil, nil)
				if body.Status != http.StatusOK || sha256Digest(body.Body) != tc.digest {
					t.Errorf("GET mounted blob: status %d, content %s", body.Status, sha256Digest(body.Body))
				}
			case http.StatusAccepted:
				if !strings.Contains(loc, "/v2/"+dst+"/blobs/uploads/") {
					t.Errorf("fallback upload: Location %q, want an upload URL in %s", loc, dst)
				}
				if h := reg.headBlob(t, dst, tc.digest); h.Status != http.StatusNotFound {
					t.Errorf("HEAD unmounted blob in %s: want 404, got %d", dst, h.Status)
				}
				// The session is a real upload: finish it with the blob.
				if tc.digest == elsewhere {
					data := []byte("only in mount/other " + digest)
					put := reg.do(t, http.MethodPut, reg.resolve(t, loc)+sepFor(loc)+"digest="+url.QueryEscape(tc.digest),
						http.Header{"Content-Type": {"application/octet-stream"}}, data)
					if put.Status != http.StatusCreated {
						t.Errorf("complete fallback upload: want 201, got\n%s", put)
					}
				}
			}
		})
	}
}

// isMount reports whether a request is a mount of digest from src into dst.
func isMount(r requestRecord, dst, digest, src string) bool {
	if r.Method != http.MethodPost {
		return false
	}
	u, err := url.Parse(r.URI)
	if err != nil || !strings.HasPrefix(u.Path, "/v2/"+dst+"/blobs/uploads") {
		return false
	}
	q := u.Query()
	return q.Get("mount") == digest && q.Get("from") == src
}

func sepFor(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}
