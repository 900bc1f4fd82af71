package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const (
	cfgDigest   = "sha256:6f4e69a5ff18d92e7315e3ee31c62165ebf25bfa05cad05c0d09d8f412dae401"
	layerDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

func TestParseManifest(t *testing.T) {
	image := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
		"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfgDigest + `","size":2},
		"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + layerDigest + `","size":3}]}`
	tests := []struct {
		name, contentType, body string
		wantType, wantArtifact  string
		blobs, children         int
		err                     error
	}{
		{"oci image", "application/vnd.oci.image.manifest.v1+json", image, "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json", 2, 0, nil},
		{"media type from body", "", image, "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json", 2, 0, nil},
		{"docker schema 2", "application/vnd.docker.distribution.manifest.v2+json",
			`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + cfgDigest + `","size":2},"layers":[]}`,
			"application/vnd.docker.distribution.manifest.v2+json", "", 1, 0, nil},
		{"artifact", "application/vnd.oci.image.manifest.v1+json",
			`{"schemaVersion":2,"artifactType":"application/x-sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + cfgDigest + `","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + layerDigest + `","size":9}}`,
			"application/vnd.oci.image.manifest.v1+json", "application/x-sig", 1, 0, nil},
		{"index", "application/vnd.oci.image.index.v1+json",
			`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + cfgDigest + `","size":5},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + cfgDigest + `","size":5}]}`,
			"application/vnd.oci.image.index.v1+json", "", 0, 1, nil},
		{"foreign layer skipped", "application/vnd.docker.distribution.manifest.v2+json",
			`{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + cfgDigest + `","size":2},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"` + layerDigest + `","size":3,"urls":["https://example.com/l"]}]}`,
			"application/vnd.docker.distribution.manifest.v2+json", "", 1, 0, nil},
		{"schema 1 by type", "application/vnd.docker.distribution.manifest.v1+prettyjws", `{"schemaVersion":1}`, "", "", 0, 0, ErrManifestInvalid},
		{"schema 1 by body", "application/json", `{"schemaVersion":1,"fsLayers":[]}`, "", "", 0, 0, ErrManifestInvalid},
		{"malformed json", "application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,`, "", "", 0, 0, ErrManifestInvalid},
		{"trailing data", "application/vnd.oci.image.manifest.v1+json", image + `{}`, "", "", 0, 0, ErrManifestInvalid},
		{"type mismatch", "application/vnd.oci.image.index.v1+json", image, "", "", 0, 0, ErrManifestInvalid},
		{"no config", "application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"layers":[]}`, "", "", 0, 0, ErrManifestInvalid},
		{"bad digest", "application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:abc","size":1}}`, "", "", 0, 0, ErrManifestInvalid},
		{"negative size", "application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + cfgDigest + `","size":-1}}`, "", "", 0, 0, ErrManifestInvalid},
		{"unknown type", "application/x-whatever", image, "", "", 0, 0, ErrManifestInvalid},
		{"schemaVersion 3", "", `{"schemaVersion":3}`, "", "", 0, 0, ErrManifestInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseManifest(tc.contentType, []byte(tc.body))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != tc.wantType || m.ArtifactType != tc.wantArtifact || len(m.Blobs) != tc.blobs || len(m.Children) != tc.children {
				t.Fatalf("got type %q artifact %q blobs %v children %v", m.MediaType, m.ArtifactType, m.Blobs, m.Children)
			}
		})
	}
}

// FuzzParseManifest: parsing never panics, and what it accepts has valid
// digests everywhere.
func FuzzParseManifest(f *testing.F) {
	f.Add("application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2,"config":{"mediaType":"x","digest":"`+cfgDigest+`","size":2},"layers":[]}`))
	f.Add("application/vnd.oci.image.index.v1+json", []byte(`{"schemaVersion":2,"manifests":[]}`))
	f.Add("", []byte(`{"schemaVersion":1}`))
	f.Add("application/json", []byte(`null`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		m, err := ParseManifest(ct, body)
		if err != nil {
			if !errors.Is(err, ErrManifestInvalid) {
				t.Fatalf("error is not ErrManifestInvalid: %v", err)
			}
			return
		}
		for _, d := range append(append([]digest.Digest{}, m.Blobs...), m.Children...) {
			if d.Validate() != nil {
				t.Fatalf("accepted invalid digest %q", d)
			}
		}
		if m.Subject != "" && m.Subject.Validate() != nil {
			t.Fatalf("accepted invalid subject %q", m.Subject)
		}
		if strings.TrimSpace(m.MediaType) == "" {
			t.Fatal("accepted manifest without media type")
		}
	})
}
