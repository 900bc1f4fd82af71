package app_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
)

// registryFixture pushes content for the UI tests with Basic credentials.
type registryFixture struct {
	t   *testing.T
	url string
	c   cred
}

func (f registryFixture) blob(repo string, b []byte) digest.Digest {
	f.t.Helper()
	d := digest.FromBytes(b)
	if res := send(f.t, "POST", f.url+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), f.c.basic(), b, nil); res.status != 201 {
		f.t.Fatalf("push blob to %s: %d %s", repo, res.status, res.body)
	}
	return d
}

func (f registryFixture) manifest(repo, ref, mediaType string, body []byte) digest.Digest {
	f.t.Helper()
	res := send(f.t, "PUT", f.url+"/v2/"+repo+"/manifests/"+ref, f.c.basic(), body, map[string]string{"Content-Type": mediaType})
	if res.status != 201 {
		f.t.Fatalf("push manifest %s:%s: %d %s", repo, ref, res.status, res.body)
	}
	return digest.FromBytes(body)
}

// image pushes a one-layer image with a configuration (labels, history)
// and manifest annotations, and tags it.
func (f registryFixture) image(repo, tag, arch string, labels, annotations map[string]string) digest.Digest {
	f.t.Helper()
	cfg, _ := json.Marshal(map[string]any{
		"architecture": arch, "os": "linux",
		"config":  map[string]any{"Labels": labels},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{}},
		"history": []map[string]any{{"created_by": "/bin/sh -c #(nop) ADD file:" + tag + " in /"}, {"created_by": "CMD [\"sh\"]", "empty_layer": true}},
	})
	layer := []byte("layer of " + repo + ":" + tag + ":" + arch)
	c, l := f.blob(repo, cfg), f.blob(repo, layer)
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config":      map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": len(cfg)},
		"layers":      []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l, "size": len(layer)}},
		"annotations": annotations,
	})
	ref := tag
	if ref == "" {
		ref = digest.FromBytes(m).String()
	}
	return f.manifest(repo, ref, "application/vnd.oci.image.manifest.v1+json", m)
}

// index pushes an index of two platform images under tag.
func (f registryFixture) index(repo, tag string) (idx, amd, arm digest.Digest) {
	f.t.Helper()
	amd = f.image(repo, "", "amd64", nil, map[string]string{"p": "amd"})
	arm = f.image(repo, "", "arm64", nil, map[string]string{"p": "arm"})
	body := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}},`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`,
		amd, f.size(repo, amd), arm, f.size(repo, arm)))
	return f.manifest(repo, tag, "application/vnd.oci.image.index.v1+json", body), amd, arm
}

func (f registryFixture) size(repo string, d digest.Digest) int {
	res := send(f.t, "HEAD", f.url+"/v2/"+repo+"/manifests/"+d.String(), f.c.basic(), nil, nil)
	n, _ := strconv.Atoi(res.header.Get("Content-Length"))
	return n
}

// referrer pushes an artifact (a signature) whose subject is subject.
func (f registryFixture) referrer(repo string, subject digest.Digest, artifactType string) digest.Digest {
	f.t.Helper()
	empty := f.blob(repo, []byte("{}"))
	body := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":%q,`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2}],`+
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}}`,
		artifactType, empty, empty, subject, f.size(repo, subject)))
	return f.manifest(repo, digest.FromBytes(body).String(), "application/vnd.oci.image.manifest.v1+json", body)
}
