package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// Scenario 9: regctl pushes blobs in chunks (PATCH with Content-Range,
// then PUT ?digest=) when the registry is configured with a small
// --blob-chunk and --blob-max; the blobs round-trip through regctl and
// crane. The proxy's record shows the chunks.
func TestRegctlChunkedUpload(t *testing.T) {
	testproc.Need(t, "regctl")
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	const chunk = 1 << 20
	c.regctlSetArgs = []string{"--blob-chunk", strconv.Itoa(chunk), "--blob-max", strconv.Itoa(chunk)}
	c.regctlSetup()

	cases := []struct {
		name       string
		size       int
		withDigest bool // regctl blob put --digest (else the digest is learnt while streaming)
	}{
		{"stream-5.5MiB", 5*chunk + chunk/2, false},
		{"digest-3MiB-exact-chunks", 3 * chunk, true},
		{"stream-small-one-chunk", 1000, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.forT(t)
			repo := "chunked/" + strings.ToLower(strings.ReplaceAll(tc.name, ".", "-"))
			file := filepath.Join(c.dir, tc.name+".bin")
			digest := writeRandomFile(t, file, int64(tc.size))
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			before := len(reg.Requests())
			args := []string{"blob", "put", reg.Host + "/" + repo}
			if tc.withDigest {
				args = append(args, "--digest", digest)
			}
			out := c.runWith(runOpts{stdin: f}, "regctl", args...)
			if got := strings.TrimSpace(out); got != digest {
				t.Fatalf("regctl blob put printed %q, want %s", got, digest)
			}
			if reg.proxy != nil {
				checkChunkedUpload(t, requestsSince(reg.Requests(), before), repo, tc.size, chunk)
			}

			head := reg.headBlob(t, repo, digest)
			if head.Status != http.StatusOK || head.Header.Get("Content-Length") != strconv.Itoa(tc.size) {
				t.Errorf("HEAD blob: want 200 with Content-Length %d, got\n%s", tc.size, head)
			}
			var got bytes.Buffer
			c.runWith(runOpts{stdout: &got}, "regctl", "blob", "get", reg.Host+"/"+repo, digest)
			if sha256Digest(got.Bytes()) != digest || got.Len() != tc.size {
				t.Errorf("regctl blob get: %d bytes hashing to %s", got.Len(), sha256Digest(got.Bytes()))
			}
			got.Reset()
			c.runWith(runOpts{stdout: &got}, "crane", "blob", "--insecure", c.ref(repo, digest))
			if sha256Digest(got.Bytes()) != digest {
				t.Errorf("crane blob: %d bytes hashing to %s", got.Len(), sha256Digest(got.Bytes()))
			}
		})
	}
}

var contentRangeRE = regexp.MustCompile(`^(?:bytes[ =])?(\d+)-(\d+)$`)

// checkChunkedUpload checks the recorded requests of one regctl blob put:
// one POST, PATCHes of at most chunk bytes covering the blob in order, each
// answered 202 with a Range header up to the bytes received, and a final
// PUT answered 201.
func checkChunkedUpload(t testing.TB, recs []requestRecord, repo string, size, chunk int) {
	t.Helper()
	prefix := "/v2/" + repo + "/blobs/uploads/"
	var posts, puts int
	next := 0
	var patches []string
	for _, r := range recs {
		if !strings.HasPrefix(r.URI, prefix) {
			continue
		}
		switch r.Method {
		case http.MethodPost:
			posts++
			if r.Status != http.StatusAccepted {
				t.Errorf("POST: %s", r)
			}
		case http.MethodPatch:
			patches = append(patches, r.String())
			n, _ := strconv.Atoi(r.ReqHeader.Get("Content-Length"))
			if n > chunk {
				t.Errorf("PATCH of %d bytes, more than the %d-byte chunk: %s", n, chunk, r)
			}
			if cr := r.ReqHeader.Get("Content-Range"); cr != "" {
				if want := fmt.Sprintf("%d-%d", next, next+n-1); !strings.HasSuffix(cr, want) {
					t.Errorf("PATCH Content-Range %q, want %q: %s", cr, want, r)
				}
			}
			next += n
			if r.Status != http.StatusAccepted {
				t.Errorf("PATCH: want 202: %s", r)
			}
			if m := contentRangeRE.FindStringSubmatch(r.RespHeader.Get("Range")); m == nil || m[1] != "0" || m[2] != strconv.Itoa(next-1) {
				t.Errorf("PATCH response Range %q, want 0-%d: %s", r.RespHeader.Get("Range"), next-1, r)
			}
		case http.MethodPut:
			puts++
			// A client may send the last chunk with the PUT.
			n, _ := strconv.Atoi(r.ReqHeader.Get("Content-Length"))
			next += n
			if r.Status != http.StatusCreated {
				t.Errorf("PUT: want 201: %s", r)
			}
		}
	}
	if posts != 1 || puts != 1 {
		t.Errorf("want 1 POST and 1 PUT, got %d and %d:\n%s", posts, puts, formatRecords(recs))
	}
	if minPatches := (size + chunk - 1) / chunk; len(patches) < minPatches && size > chunk {
		t.Errorf("%d PATCH requests for %d bytes in %d-byte chunks, want at least %d:\n%s",
			len(patches), size, chunk, minPatches, formatRecords(recs))
	}
	if next != size && len(patches) > 0 {
		t.Errorf("PATCHes carried %d bytes, want %d", next, size)
	}
}
