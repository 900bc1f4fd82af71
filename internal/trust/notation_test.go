package trust

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/notaryproject/notation-core-go/testhelper"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/registry"
)

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// notationPolicy is a trust policy trusting the acme CA store for scope,
// pinning identity.
func notationPolicy(scope, identity string) []byte {
	return []byte(`{"version":"1.0","trustPolicies":[{"name":"acme","registryScopes":["` + scope + `"],
		"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["` + identity + `"]}]}`)
}

func TestNotation(t *testing.T) {
	root, leaf := testhelper.GetRSARootCertificate(), testhelper.GetRSALeafCertificate()
	sign, err := signer.NewGenericSigner(leaf.PrivateKey, []*x509.Certificate{leaf.Cert, root.Cert})
	if err != nil {
		t.Fatal(err)
	}
	subjectDN := "x509.subject: " + leaf.Cert.Subject.String()
	for _, tc := range []struct {
		name, envelope, scope, identity, reason string
		otherTarget                             bool
	}{
		{"JWS", mediaJWS, "berth.local/p/app", subjectDN, "", false},
		{"COSE", mediaCOSE, "*", "*", "", false},
		{"scope mismatch", mediaJWS, "berth.local/p/other", "*", "identity", false},
		{"identity mismatch", mediaCOSE, "*", "x509.subject: C=US, ST=WA, O=Other, CN=someone else", ReasonIdentity, false},
		{"signature of another manifest", mediaJWS, "*", "*", ReasonDigestMismatch, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.material("p", "acme", KindNotationCA, pemCert(root.Cert.Raw))
			e.rule("p", Rule{Repositories: "app", Mode: ModeEnforce, Notation: &Notation{TrustPolicy: notationPolicy(tc.scope, tc.identity)}})
			d, content := e.image("p/app", "v1")
			target := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: d, Size: int64(len(content))}
			if tc.otherTarget {
				od, ocontent := e.image("p/app", "v2")
				target = v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: od, Size: int64(len(ocontent))}
			}
			env, _, err := sign.Sign(ctx, target, notation.SignerSignOptions{SignatureMediaType: tc.envelope})
			if err != nil {
				t.Fatal(err)
			}
			e.referrer("p/app", d, int64(len(content)), mediaNotation, tc.envelope, env)
			err = e.pull("p/app", d)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("pull = %v", err)
				}
				st, _ := e.trust.Status(ctx, "p/app", d)
				if s := st.Rules[0].Signatures[0]; !s.Valid || s.Format != FormatNotation || !strings.Contains(s.Signer, "notation:") {
					t.Fatalf("signature status %+v", s)
				}
				return
			}
			if !errors.Is(err, registry.ErrDenied) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("pull = %v, want denied for %q", err, tc.reason)
			}
		})
	}
}
