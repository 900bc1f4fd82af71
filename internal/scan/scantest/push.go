package scantest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushBlob uploads b to repo of the registry at base (no credentials).
func PushBlob(t testing.TB, base, repo string, b []byte) v1.Descriptor {
	t.Helper()
	d := digest.FromBytes(b)
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "application/octet-stream", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("blob upload to %s: %d %s", repo, resp.StatusCode, body)
	}
	return v1.Descriptor{Digest: d, Size: int64(len(b))}
}

// PushManifest puts a manifest as repo:ref and returns its digest.
func PushManifest(t testing.TB, base, repo, ref, mediaType string, body []byte) digest.Digest {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("manifest put %s:%s: %d %s", repo, ref, resp.StatusCode, b)
	}
	return digest.FromBytes(body)
}

// PushImage pushes an image of the gzip tar layers as repo:tag and
// returns its manifest's descriptor.
func PushImage(t testing.TB, base, repo, tag string, layers ...[]byte) v1.Descriptor {
	t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: PushBlob(t, base, repo, cfg)}
	m.SchemaVersion = 2
	m.Config.MediaType = v1.MediaTypeImageConfig
	for _, l := range layers {
		d := PushBlob(t, base, repo, l)
		d.MediaType = v1.MediaTypeImageLayerGzip
		m.Layers = append(m.Layers, d)
	}
	body, _ := json.Marshal(m)
	d := PushManifest(t, base, repo, tag, v1.MediaTypeImageManifest, body)
	return v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: d, Size: int64(len(body))}
}

// PushIndex pushes an index of images (by platform "os/arch") as repo:tag.
func PushIndex(t testing.TB, base, repo, tag string, children map[string]v1.Descriptor) digest.Digest {
	t.Helper()
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	for platform, d := range children {
		os, arch, _ := cut(platform)
		d.MediaType = v1.MediaTypeImageManifest
		d.Platform = &v1.Platform{OS: os, Architecture: arch}
		idx.Manifests = append(idx.Manifests, d)
	}
	body, _ := json.Marshal(idx)
	return PushManifest(t, base, repo, tag, v1.MediaTypeImageIndex, body)
}

func cut(s string) (a, b string, ok bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// PushArtifact pushes a built blob set and manifest (a vulnerability
// database) as repo:tag.
func PushArtifact(t testing.TB, base, repo, tag string, manifest []byte, blobs ...[]byte) digest.Digest {
	t.Helper()
	for _, b := range blobs {
		PushBlob(t, base, repo, b)
	}
	return PushManifest(t, base, repo, tag, v1.MediaTypeImageManifest, manifest)
}
