package trust

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/berth-registry/berth/internal/meta"
)

// Limits on trust material.
const (
	maxMaterial     = 1 << 20 // bytes of one key, root or certificate bundle
	maxCertificates = 64      // certificates in one notation store
)

// materials is a project's parsed trust material.
type materials struct {
	keys  map[string]signature.Verifier // cosign keys by name
	pubs  map[string]crypto.PublicKey
	roots map[string]*root.TrustedRoot
	certs map[string][]*x509.Certificate // notation stores by "kind/name"
}

// parseMaterial checks one piece of material and returns its parsed form.
func parseMaterial(m meta.TrustMaterial) (any, error) {
	if m.Name == "" || len(m.Name) > 128 || strings.ContainsAny(m.Name, "/: \t\n") {
		return nil, fmt.Errorf("%w: a name of 1 to 128 characters without '/', ':' or spaces is needed", ErrInvalid)
	}
	if len(m.Data) > maxMaterial {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, m.Name, maxMaterial)
	}
	switch m.Kind {
	case KindCosignKey:
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(m.Data))
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a PEM public key: %v", ErrInvalid, m.Name, err)
		}
		if _, err := signature.LoadVerifier(pub, crypto.SHA256); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, m.Name, err)
		}
		return pub, nil
	case KindTrustedRoot:
		tr, err := root.NewTrustedRootFromJSON([]byte(m.Data))
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a Sigstore trusted root: %v", ErrInvalid, m.Name, err)
		}
		return tr, nil
	case KindNotationCA, KindNotationSA, KindNotationTSA:
		certs, err := parseCertificates([]byte(m.Data))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, m.Name, err)
		}
		return certs, nil
	}
	return nil, fmt.Errorf("%w: kind %q is none of %s, %s, %s, %s, %s", ErrInvalid, m.Kind,
		KindCosignKey, KindTrustedRoot, KindNotationCA, KindNotationSA, KindNotationTSA)
}

// parseCertificates reads PEM certificates.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		if out = append(out, c); len(out) > maxCertificates {
			return nil, fmt.Errorf("more than %d certificates", maxCertificates)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out, nil
}

// loadMaterials parses a project's stored material; material that no
// longer parses is skipped (it was checked when added).
func loadMaterials(ms []meta.TrustMaterial) *materials {
	out := &materials{keys: map[string]signature.Verifier{}, pubs: map[string]crypto.PublicKey{},
		roots: map[string]*root.TrustedRoot{}, certs: map[string][]*x509.Certificate{}}
	for _, m := range ms {
		v, err := parseMaterial(m)
		if err != nil {
			continue
		}
		switch v := v.(type) {
		case crypto.PublicKey:
			if sv, err := signature.LoadVerifier(v, crypto.SHA256); err == nil && m.Kind == KindCosignKey {
				out.keys[m.Name], out.pubs[m.Name] = sv, v
			}
		}
		switch v := v.(type) {
		case *root.TrustedRoot:
			out.roots[m.Name] = v
		case []*x509.Certificate:
			out.certs[m.Kind+"/"+m.Name] = v
		}
	}
	return out
}
