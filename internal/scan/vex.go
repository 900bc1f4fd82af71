package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
)

// Artifact types of OpenVEX documents attached to images as referrers
// (the document is the manifest's first layer, or its config).
var vexTypes = []string{"application/vnd.openvex+json", "application/openvex+json"}

// VEX statuses that take a finding out of the gate's count.
const (
	VEXNotAffected = "not_affected"
	VEXFixed       = "fixed"
)

// ErrVEX: a VEX document is not OpenVEX.
var ErrVEX = errors.New("scan: invalid OpenVEX document")

// VEXStatement is one statement of an OpenVEX document.
type VEXStatement struct {
	Vulnerability string
	Status        string
	// Products are the purls or other ids the statement names; empty:
	// the image the document is attached to.
	Products []string
}

// ParseOpenVEX reads an OpenVEX document (v0.0.1 to v0.2.x: the
// vulnerability as a string or as an object with a name and aliases).
func ParseOpenVEX(data []byte) ([]VEXStatement, error) {
	var doc struct {
		Context    string `json:"@context"`
		Statements []struct {
			Vulnerability json.RawMessage   `json:"vulnerability"`
			Status        string            `json:"status"`
			Products      []json.RawMessage `json:"products"`
		} `json:"statements"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVEX, err)
	}
	if !strings.HasPrefix(doc.Context, "https://openvex.dev/ns") {
		return nil, fmt.Errorf("%w: @context %q", ErrVEX, doc.Context)
	}
	var out []VEXStatement
	for _, s := range doc.Statements {
		st := VEXStatement{Status: s.Status}
		var name string
		var obj struct {
			Name    string   `json:"name"`
			ID      string   `json:"@id"`
			Aliases []string `json:"aliases"`
		}
		switch {
		case json.Unmarshal(s.Vulnerability, &name) == nil:
			st.Vulnerability = name
		case json.Unmarshal(s.Vulnerability, &obj) == nil:
			st.Vulnerability = obj.Name
		}
		if st.Vulnerability == "" {
			continue
		}
		for _, p := range s.Products {
			var id string
			var pobj struct {
				ID string `json:"@id"`
			}
			if json.Unmarshal(p, &id) == nil {
				st.Products = append(st.Products, id)
			} else if json.Unmarshal(p, &pobj) == nil && pobj.ID != "" {
				st.Products = append(st.Products, pobj.ID)
			}
		}
		out = append(out, st)
		if obj.Aliases != nil {
			for _, a := range obj.Aliases {
				alias := st
				alias.Vulnerability = a
				out = append(out, alias)
			}
		}
	}
	return out, nil
}

// applyVEX marks the findings the statements say are not_affected or
// fixed. A statement naming products applies to findings whose package
// purl, or the image (pkg:oci/... or its digest), is among them.
func applyVEX(fs []Finding, sts []VEXStatement, image digest.Digest, purls map[string]string) {
	for i := range fs {
		f := &fs[i]
		for _, st := range sts {
			if st.Status != VEXNotAffected && st.Status != VEXFixed {
				continue
			}
			if !nameMatches(f, st.Vulnerability) || !productMatches(st.Products, image, purls[f.Package+"@"+f.Installed]) {
				continue
			}
			f.VEX = st.Status
		}
	}
}

func nameMatches(f *Finding, name string) bool {
	for _, n := range f.Names() {
		if n == name {
			return true
		}
	}
	return false
}

func productMatches(products []string, image digest.Digest, purl string) bool {
	if len(products) == 0 {
		return true
	}
	for _, p := range products {
		base, _, _ := strings.Cut(p, "?")
		switch {
		case purl != "" && (p == purl || base == strings.SplitN(purl, "?", 2)[0]):
			return true
		case strings.HasPrefix(p, "pkg:oci/") && strings.Contains(p, strings.ReplaceAll(image.String(), ":", "%3A")):
			return true
		case p == image.String():
			return true
		}
	}
	return false
}

// Referrers lists referrers of a manifest (the registry service).
type Referrers interface {
	Referrers(ctx context.Context, repo string, dgst digest.Digest, artifactType string) (*v1.Index, error)
	OpenBlob(ctx context.Context, repo string, dgst digest.Digest) (io.ReadCloser, error)
}

// vexStatements reads the OpenVEX documents attached to repo@dgst.
// Documents that do not parse are logged and skipped.
func (s *Service) vexStatements(ctx context.Context, repo string, dgst digest.Digest) ([]VEXStatement, error) {
	if s.opts.Referrers == nil {
		return nil, nil
	}
	var out []VEXStatement
	for _, at := range vexTypes {
		idx, err := s.opts.Referrers.Referrers(ctx, repo, dgst, at)
		if err != nil {
			return nil, err
		}
		for _, d := range idx.Manifests {
			m, err := s.reg.GetManifest(ctx, repo, d.Digest.String())
			if err != nil {
				continue // deleted meanwhile
			}
			var man v1.Manifest
			if json.Unmarshal(m.Content, &man) != nil {
				continue
			}
			blob := man.Config
			if len(man.Layers) > 0 {
				blob = man.Layers[0]
			}
			if blob.Size > 4<<20 {
				continue
			}
			rc, err := s.opts.Referrers.OpenBlob(ctx, repo, blob.Digest)
			if err != nil {
				continue
			}
			data, err := io.ReadAll(io.LimitReader(rc, 4<<20))
			rc.Close()
			if err != nil {
				continue
			}
			sts, err := ParseOpenVEX(data)
			if err != nil {
				s.log.Warn("VEX document skipped", "repo", repo, "digest", d.Digest, "error", err)
				continue
			}
			out = append(out, sts...)
		}
	}
	return out, nil
}

// isVEX reports whether a pushed manifest is a VEX document about another.
func isVEX(m *meta.Manifest) bool {
	if m.Subject == "" {
		return false
	}
	for _, t := range vexTypes {
		if m.ArtifactType == t {
			return true
		}
	}
	return false
}

// keepVEX carries the VEX marks of a manifest's previous result over to a
// rescan's findings (a rescan knows the digest, not the repository whose
// referrers hold the documents; a new VEX document triggers a scan).
func (s *Service) keepVEX(ctx context.Context, dgst digest.Digest, fs []Finding) {
	prev, err := s.store.GetScanResult(ctx, dgst, false)
	if err != nil {
		return
	}
	var sum []gateFinding
	if json.Unmarshal(prev.Summary, &sum) != nil {
		return
	}
	marks := map[string]string{}
	for _, g := range sum {
		if g.VEX != "" {
			marks[g.ID+"\x00"+g.Package+"\x00"+g.Version] = g.VEX
		}
	}
	for i := range fs {
		if v, ok := marks[fs[i].ID+"\x00"+fs[i].Package+"\x00"+fs[i].Installed]; ok {
			fs[i].VEX = v
		}
	}
}
