package scan

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// SBOM formats and their media types, which are also the artifact types
// of the referrers that hold them (the formats' registered media types,
// as syft, Docker and ORAS use them).
const (
	FormatSPDX          = "spdx"
	FormatCycloneDX     = "cyclonedx"
	MediaTypeSPDX       = "application/spdx+json"
	MediaTypeCycloneDX  = "application/vnd.cyclonedx+json"
	annotationGenerator = "io.berth.sbom.generator"
)

// Publisher stores blobs and manifests (the registry service, with its
// checks: quotas, referrers).
type Publisher interface {
	PushBlob(ctx context.Context, repo string, dgst digest.Digest, size int64, body io.Reader) error
	PutManifest(ctx context.Context, repo, ref, contentType string, body []byte) error
}

// SBOM generates an image's SBOM, in SPDX 2.3 or CycloneDX 1.5 JSON, from
// its package list (extracted the first time, as for a scan).
func (s *Service) SBOM(ctx context.Context, repo, ref, format string) (doc []byte, mediaType string, err error) {
	m, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return nil, "", err
	}
	if !scannable(m) || isIndex(m) {
		return nil, "", fmt.Errorf("%w: an SBOM describes one image", ErrNotScannable)
	}
	pkgs, err := s.packages(ctx, repo, m)
	if err != nil {
		return nil, "", err
	}
	now := time.Now().UTC()
	switch format {
	case FormatSPDX:
		doc, err = spdxDocument(repo, m.Digest, pkgs, now)
		return doc, MediaTypeSPDX, err
	case FormatCycloneDX:
		doc, err = cycloneDXDocument(repo, m.Digest, pkgs, now)
		return doc, MediaTypeCycloneDX, err
	}
	return nil, "", fmt.Errorf("%w: format must be %s or %s", ErrInvalid, FormatSPDX, FormatCycloneDX)
}

// AttachSBOM generates an image's SBOM and stores it as a referrer of the
// image (artifact type the format's media type, one layer), so the
// referrers API, `oras discover` and the web UI list it.
func (s *Service) AttachSBOM(ctx context.Context, pub Publisher, repo, ref, format string) (digest.Digest, error) {
	doc, mt, err := s.SBOM(ctx, repo, ref, format)
	if err != nil {
		return "", err
	}
	subject, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return "", err
	}
	empty := []byte("{}")
	for _, b := range [][]byte{empty, doc} {
		if err := pub.PushBlob(ctx, repo, digest.FromBytes(b), int64(len(b)), bytes.NewReader(b)); err != nil {
			return "", err
		}
	}
	man := v1.Manifest{MediaType: v1.MediaTypeImageManifest, ArtifactType: mt,
		Config: v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON, Digest: digest.FromBytes(empty), Size: 2},
		Layers: []v1.Descriptor{{MediaType: mt, Digest: digest.FromBytes(doc), Size: int64(len(doc)),
			Annotations: map[string]string{v1.AnnotationTitle: "sbom." + format + ".json"}}},
		Subject:     &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: int64(len(subject.Content))},
		Annotations: map[string]string{v1.AnnotationCreated: time.Now().UTC().Format(time.RFC3339), annotationGenerator: s.x.Name()}}
	man.SchemaVersion = 2
	body, err := json.Marshal(man)
	if err != nil {
		return "", err
	}
	d := digest.FromBytes(body)
	if err := pub.PutManifest(ctx, repo, d.String(), v1.MediaTypeImageManifest, body); err != nil {
		return "", err
	}
	return d, nil
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// spdxDocument is an SPDX 2.3 JSON document: the image as a package that
// contains every package found, each with its purl.
func spdxDocument(repo string, dgst digest.Digest, pkgs []Package, now time.Time) ([]byte, error) {
	type ref struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	type pkg struct {
		Name             string `json:"name"`
		SPDXID           string `json:"SPDXID"`
		VersionInfo      string `json:"versionInfo,omitempty"`
		DownloadLocation string `json:"downloadLocation"`
		FilesAnalyzed    bool   `json:"filesAnalyzed"`
		LicenseConcluded string `json:"licenseConcluded"`
		LicenseDeclared  string `json:"licenseDeclared"`
		CopyrightText    string `json:"copyrightText"`
		SourceInfo       string `json:"sourceInfo,omitempty"`
		Comment          string `json:"comment,omitempty"`
		ExternalRefs     []ref  `json:"externalRefs,omitempty"`
		PrimaryPurpose   string `json:"primaryPackagePurpose,omitempty"`
	}
	type rel struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
	image := pkg{Name: repo, SPDXID: "SPDXRef-Image", VersionInfo: dgst.String(), DownloadLocation: "NOASSERTION",
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION", PrimaryPurpose: "CONTAINER",
		ExternalRefs: []ref{{"PACKAGE-MANAGER", "purl", "pkg:oci/" + lastPath(repo) + "@" + strings.ReplaceAll(dgst.String(), ":", "%3A")}}}
	doc := map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
		"name":              repo + "@" + dgst.String(),
		"documentNamespace": "https://berth.invalid/spdx/" + repo + "/" + dgst.Encoded() + "-" + uuid(),
		"creationInfo":      map[string]any{"created": now.Format(time.RFC3339), "creators": []string{"Tool: berth", "Tool: osv-scalibr-v0.5.3"}},
		"documentDescribes": []string{"SPDXRef-Image"},
	}
	packages := []pkg{image}
	rels := []rel{{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"}}
	for i, p := range pkgs {
		id := "SPDXRef-Package-" + strconv.Itoa(i+1)
		sp := pkg{Name: p.Name, SPDXID: id, VersionInfo: p.Version, DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			SourceInfo: "found in " + p.Path + " of layer " + p.Layer.String()}
		if len(p.Licenses) > 0 {
			sp.Comment = "licenses: " + strings.Join(p.Licenses, ", ")
		}
		if p.PURL != "" {
			sp.ExternalRefs = []ref{{"PACKAGE-MANAGER", "purl", p.PURL}}
		}
		packages = append(packages, sp)
		rels = append(rels, rel{"SPDXRef-Image", "CONTAINS", id})
	}
	doc["packages"], doc["relationships"] = packages, rels
	return json.MarshalIndent(doc, "", " ")
}

// cycloneDXDocument is a CycloneDX 1.5 JSON BOM: the image as the
// metadata's container component, the packages as library components
// with their purls, and where each was found as properties.
func cycloneDXDocument(repo string, dgst digest.Digest, pkgs []Package, now time.Time) ([]byte, error) {
	type prop struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type lic struct {
		License map[string]string `json:"license"`
	}
	type comp struct {
		Type       string `json:"type"`
		BOMRef     string `json:"bom-ref"`
		Name       string `json:"name"`
		Version    string `json:"version,omitempty"`
		PURL       string `json:"purl,omitempty"`
		Licenses   []lic  `json:"licenses,omitempty"`
		Properties []prop `json:"properties,omitempty"`
	}
	comps := make([]comp, 0, len(pkgs))
	refs := make([]string, 0, len(pkgs))
	for i, p := range pkgs {
		c := comp{Type: "library", BOMRef: "pkg-" + strconv.Itoa(i+1), Name: p.Name, Version: p.Version, PURL: p.PURL,
			Properties: []prop{{"berth:ecosystem", p.Ecosystem}, {"berth:path", p.Path}, {"berth:layer", p.Layer.String()}}}
		for _, l := range p.Licenses {
			c.Licenses = append(c.Licenses, lic{map[string]string{"name": l}})
		}
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	doc := map[string]any{
		"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": "urn:uuid:" + uuid(), "version": 1,
		"metadata": map[string]any{
			"timestamp": now.Format(time.RFC3339),
			"tools":     map[string]any{"components": []comp{{Type: "application", BOMRef: "tool-berth", Name: "berth"}}},
			"component": comp{Type: "container", BOMRef: "image", Name: repo, Version: dgst.String()},
		},
		"components":   comps,
		"dependencies": []map[string]any{{"ref": "image", "dependsOn": refs}},
	}
	return json.MarshalIndent(doc, "", " ")
}

func lastPath(repo string) string {
	if i := strings.LastIndexByte(repo, '/'); i >= 0 {
		return repo[i+1:]
	}
	return repo
}
