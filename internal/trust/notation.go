package trust

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
)

// trustStore is notation's trust store over a project's notation material:
// "ca:acme" is the notation-ca material named acme.
type trustStore struct{ mat *materials }

// GetCertificates implements truststore.X509TrustStore.
func (t trustStore) GetCertificates(_ context.Context, storeType truststore.Type, name string) ([]*x509.Certificate, error) {
	kind := map[truststore.Type]string{truststore.TypeCA: KindNotationCA, truststore.TypeSigningAuthority: KindNotationSA,
		truststore.TypeTSA: KindNotationTSA}[storeType]
	certs := t.mat.certs[kind+"/"+name]
	if len(certs) == 0 {
		return nil, fmt.Errorf("trust store %s:%s is not uploaded", storeType, name)
	}
	return certs, nil
}

// notationVerifier builds notation's verifier for a rule: its trust
// policy, with revocation checks skipped unless the rule asks for them.
func notationVerifier(n *Notation, mat *materials) (notation.Verifier, error) {
	doc := *n.doc
	doc.TrustPolicies = make([]trustpolicy.TrustPolicy, len(n.doc.TrustPolicies))
	for i, p := range n.doc.TrustPolicies {
		if !n.Revocation && p.SignatureVerification.VerificationLevel != trustpolicy.LevelSkip.Name {
			o := map[trustpolicy.ValidationType]trustpolicy.ValidationAction{}
			for k, v := range p.SignatureVerification.Override {
				o[k] = v
			}
			o[trustpolicy.TypeRevocation] = trustpolicy.ActionSkip
			p.SignatureVerification.Override = o
		}
		doc.TrustPolicies[i] = p
	}
	return verifier.New(&doc, trustStore{mat}, nil)
}

// verifyNotation checks a notation envelope (JWS or COSE) for the
// manifest m of repo.
func verifyNotation(ctx context.Context, c *candidate, m *meta.Manifest, repo string, r *Rule, mat *materials) (string, error) {
	if r.Notation == nil {
		return "", fmt.Errorf("%s: the rule trusts no notation signer", ReasonUntrusted)
	}
	v, err := notationVerifier(r.Notation, mat)
	if err != nil {
		return "", fmt.Errorf("%s: %v", ReasonNotationFailure, err)
	}
	host := r.Notation.Registry
	if host == "" {
		host = DefaultNotationRegistry
	}
	desc := v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Content))}
	out, err := v.Verify(ctx, desc, c.envelope, notation.VerifierVerifyOptions{
		ArtifactReference: host + "/" + repo + "@" + m.Digest.String(), SignatureMediaType: c.envelopeType})
	if err != nil {
		return "", notationReason(err)
	}
	if out == nil || out.EnvelopeContent == nil || len(out.EnvelopeContent.SignerInfo.CertificateChain) == 0 {
		return "", fmt.Errorf("%s: verification was skipped by the trust policy", ReasonUntrusted)
	}
	return "notation:" + out.EnvelopeContent.SignerInfo.CertificateChain[0].Subject.String(), nil
}

// notationReason maps notation's errors to reasons.
func notationReason(err error) error {
	msg := err.Error()
	low := strings.ToLower(msg)
	reason := ReasonNotationFailure
	switch {
	case strings.Contains(low, "trusted identit") || strings.Contains(low, "no applicable trust policy"):
		reason = ReasonIdentity
	case strings.Contains(low, "artifact digest") || strings.Contains(low, "integrity") && strings.Contains(low, "descriptor") ||
		strings.Contains(low, "content descriptor"):
		reason = ReasonDigestMismatch
	case strings.Contains(low, "expired") || strings.Contains(low, "not valid"):
		reason = ReasonExpired
	case strings.Contains(low, "authenticity") || strings.Contains(low, "trust store") || strings.Contains(low, "certificate chain"):
		reason = ReasonUntrusted
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return fmt.Errorf("%s: %s", reason, msg)
}
