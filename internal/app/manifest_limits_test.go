package app_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// storeBlob stores a blob in repo with one POST.
func storeBlob(t *testing.T, base, repo string, b []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(b)
	if res := send(t, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "", b, nil); res.status != http.StatusCreated {
		t.Fatalf("push blob: %d %s", res.status, res.body)
	}
	return d
}

// imageManifest is an OCI image manifest with one layer of the given size.
func imageManifest(cfg digest.Digest, cfgSize int64, layer digest.Digest, layerSize int64, annotations string) []byte {
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]%s}`,
		cfg, cfgSize, layer, layerSize, annotations)
}

// TestManifestLimits (issue #13, info items): descriptor sizes must be
// the stored content's, JSON must be UTF-8, and a push takes at most 32
// ?tag= parameters (each is answered with an OCI-Tag header).
func TestManifestLimits(t *testing.T) {
	srv := apptest.Start(t, nil)
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("layer bytes")
	cd, ld := storeBlob(t, srv.URL, "lim/app", cfg), storeBlob(t, srv.URL, "lim/app", layer)
	ok := imageManifest(cd, int64(len(cfg)), ld, int64(len(layer)), "")
	put := func(ref string, body []byte, tags int) result {
		q := url.Values{}
		for i := range tags {
			q.Add("tag", fmt.Sprintf("t%d", i))
		}
		u := srv.URL + "/v2/lim/app/manifests/" + ref
		if tags > 0 {
			u += "?" + q.Encode()
		}
		return send(t, "PUT", u, "", body, map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	}
	tests := []struct {
		name   string
		body   []byte
		tags   int
		status int
		code   string
	}{
		{"sizes right", ok, 0, http.StatusCreated, ""},
		{"layer size 2^63-1", imageManifest(cd, int64(len(cfg)), ld, math.MaxInt64, ""), 0, http.StatusBadRequest, "MANIFEST_INVALID"},
		{"layer size off by one", imageManifest(cd, int64(len(cfg)), ld, int64(len(layer))+1, ""), 0, http.StatusBadRequest, "MANIFEST_INVALID"},
		{"config size 0", imageManifest(cd, 0, ld, int64(len(layer)), ""), 0, http.StatusBadRequest, "MANIFEST_INVALID"},
		{"negative size", imageManifest(cd, int64(len(cfg)), ld, -1, ""), 0, http.StatusBadRequest, "MANIFEST_INVALID"},
		{"unknown layer", imageManifest(cd, int64(len(cfg)), digest.FromString("absent"), 6, ""), 0, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN"},
		{"invalid UTF-8 in an annotation", imageManifest(cd, int64(len(cfg)), ld, int64(len(layer)), `,"annotations":{"a":"`+"\xff\xfe"+`"}`), 0, http.StatusBadRequest, "MANIFEST_INVALID"},
		{"valid UTF-8 annotation", imageManifest(cd, int64(len(cfg)), ld, int64(len(layer)), `,"annotations":{"a":"größe 大小"}`), 0, http.StatusCreated, ""},
		{"32 tags", ok, 32, http.StatusCreated, ""},
		{"33 tags", ok, 33, http.StatusBadRequest, "TAG_INVALID"},
		{"5000 tags", ok, 5000, http.StatusBadRequest, "TAG_INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := put(digest.FromBytes(tc.body).String(), tc.body, tc.tags)
			if res.status != tc.status || !strings.Contains(res.body, tc.code) {
				t.Fatalf("PUT: %d %s, want %d %s", res.status, res.body, tc.status, tc.code)
			}
			if tc.status == http.StatusCreated && len(res.header.Values("OCI-Tag")) != tc.tags {
				t.Fatalf("%d OCI-Tag headers, want %d", len(res.header.Values("OCI-Tag")), tc.tags)
			}
		})
	}
	// An index's descriptor sizes are checked against its children too.
	index := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}]}`, digest.FromBytes(ok), len(ok)+10)
	res := send(t, "PUT", srv.URL+"/v2/lim/app/manifests/idx", "", index, map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"})
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "MANIFEST_INVALID") {
		t.Fatalf("index with a wrong child size: %d %s", res.status, res.body)
	}
}

// TestChunkLengthMustMatchRange (issue #13, info item): a chunked PATCH
// whose body is longer or shorter than its Content-Range is refused with
// 416 and nothing of it is kept; the upload then goes on from where it
// was and verifies.
func TestChunkLengthMustMatchRange(t *testing.T) {
	srv := apptest.Start(t, nil)
	res := send(t, "POST", srv.URL+"/v2/chunk/app/blobs/uploads/", "", nil, nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("start: %d", res.status)
	}
	loc := srv.URL + res.header.Get("Location")
	patch := func(rng string, body []byte) result {
		req, _ := http.NewRequest("PATCH", loc, io.MultiReader(bytes.NewReader(body))) // unknown length: chunked
		req.ContentLength = -1
		req.Header.Set("Content-Range", rng)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{resp.StatusCode, resp.Header, string(b)}
	}
	data := []byte(strings.Repeat("0123456789", 3))
	if res := patch("0-9", data[:10]); res.status != http.StatusAccepted || res.header.Get("Range") != "0-9" {
		t.Fatalf("first chunk: %d %s", res.status, res.header.Get("Range"))
	}
	tests := []struct {
		name string
		rng  string
		body []byte
	}{
		{"100 bytes for a 10-byte range", "10-19", bytes.Repeat([]byte("x"), 100)},
		{"5 bytes for 10-19", "10-19", []byte("short")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := patch(tc.rng, tc.body)
			if res.status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("PATCH: %d %s, want 416", res.status, res.body)
			}
			st := send(t, "GET", loc, "", nil, nil)
			if st.header.Get("Range") != "0-9" {
				t.Fatalf("after the refused chunk the upload has Range %q, want 0-9", st.header.Get("Range"))
			}
		})
	}
	if res := patch("10-19", data[10:20]); res.status != http.StatusAccepted {
		t.Fatalf("the right chunk: %d %s", res.status, res.body)
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	res = send(t, "PUT", loc+sep+"digest="+digest.FromBytes(data).String(), "", data[20:], map[string]string{"Content-Range": "20-29"})
	if res.status != http.StatusCreated {
		t.Fatalf("finish: %d %s", res.status, res.body)
	}
}
