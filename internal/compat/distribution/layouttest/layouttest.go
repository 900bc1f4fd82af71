// Package layouttest writes Distribution (registry:2) storage layouts on
// the filesystem, as Distribution 2.8 writes them, for adoption tests and
// the import benchmark.
package layouttest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// Layout writes into Root (Distribution's rootdirectory).
type Layout struct {
	Root string
}

// Blob stores data as a blob and returns its digest.
func (l *Layout) Blob(data []byte) (digest.Digest, error) {
	d := digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(data)))
	p := filepath.Join(l.Root, "docker/registry/v2/blobs/sha256", d.Encoded()[:2], d.Encoded(), "data")
	if _, err := os.Stat(p); err == nil {
		return d, nil
	}
	return d, write(p, data)
}

// Link writes a link file at repositories/<repo>/<rel>/link.
func (l *Layout) Link(repo, rel string, d digest.Digest) error {
	return write(filepath.Join(l.Root, "docker/registry/v2/repositories", repo, rel, "link"), []byte(d.String()))
}

// LayerLink lets repo read blob d.
func (l *Layout) LayerLink(repo string, d digest.Digest) error {
	return l.Link(repo, "_layers/sha256/"+d.Encoded(), d)
}

// Manifest stores a manifest of repo (a blob and a revision link) and
// points tags at it.
func (l *Layout) Manifest(repo string, body []byte, tags ...string) (digest.Digest, error) {
	d, err := l.Blob(body)
	if err != nil {
		return "", err
	}
	if err := l.Link(repo, "_manifests/revisions/sha256/"+d.Encoded(), d); err != nil {
		return "", err
	}
	for _, t := range tags {
		if err := l.Tag(repo, t, d); err != nil {
			return "", err
		}
	}
	return d, nil
}

// Tag points tag at d, as Distribution does: current/link and the index.
func (l *Layout) Tag(repo, tag string, d digest.Digest) error {
	if err := l.Link(repo, "_manifests/tags/"+tag+"/current", d); err != nil {
		return err
	}
	return l.Link(repo, "_manifests/tags/"+tag+"/index/sha256/"+d.Encoded(), d)
}

// Image stores an OCI image of repo (config and layers linked, as a push
// leaves them) and returns the manifest's digest. Blobs are made of seed,
// so equal seeds share blobs.
func (l *Layout) Image(repo, seed string, layers int, tags ...string) (digest.Digest, error) {
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"seed":"` + seed + `"}`)
	cd, err := l.Blob(cfg)
	if err != nil {
		return "", err
	}
	type desc struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int           `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json", desc{"application/vnd.oci.image.config.v1+json", cd, len(cfg)}, []desc{}}
	if err := l.LayerLink(repo, cd); err != nil {
		return "", err
	}
	for i := range layers {
		data := fmt.Appendf(nil, "layer %d of %s", i, seed)
		ld, err := l.Blob(data)
		if err != nil {
			return "", err
		}
		if err := l.LayerLink(repo, ld); err != nil {
			return "", err
		}
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar", ld, len(data)})
	}
	body, _ := json.Marshal(m)
	return l.Manifest(repo, body, tags...)
}

// Index stores an OCI index of repo listing children.
func (l *Layout) Index(repo string, children []digest.Digest, sizes []int, tags ...string) (digest.Digest, error) {
	type desc struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int           `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		Manifests     []desc `json:"manifests"`
	}{SchemaVersion: 2, Manifests: []desc{}}
	for i, c := range children {
		m.Manifests = append(m.Manifests, desc{"application/vnd.oci.image.manifest.v1+json", c, sizes[i]})
	}
	body, _ := json.Marshal(m) // no mediaType: classified by shape
	return l.Manifest(repo, body, tags...)
}

// Generate writes repos repositories (bench/repo-00000, ...) of perRepo
// images each, as the import benchmark reads them: every image has the
// repository's config, a layer of its own and one layer all images share,
// and a tag t<i>.
func (l *Layout) Generate(repos, perRepo int) error {
	shared := []byte("the base layer every image shares")
	sd, err := l.Blob(shared)
	if err != nil {
		return err
	}
	for r := range repos {
		repo := fmt.Sprintf("bench/repo-%05d", r)
		cfg := []byte(`{"architecture":"amd64","os":"linux","repo":"` + repo + `"}`)
		cd, err := l.Blob(cfg)
		if err != nil {
			return err
		}
		for _, d := range []digest.Digest{sd, cd} {
			if err := l.LayerLink(repo, d); err != nil {
				return err
			}
		}
		for i := range perRepo {
			layer := fmt.Appendf(nil, "layer %d of %s", i, repo)
			ld, err := l.Blob(layer)
			if err != nil {
				return err
			}
			if err := l.LayerLink(repo, ld); err != nil {
				return err
			}
			body := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
				`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[`+
				`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d},`+
				`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
				cd, len(cfg), sd, len(shared), ld, len(layer))
			if _, err := l.Manifest(repo, body, fmt.Sprintf("t%d", i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func write(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}
