package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func TestParseSimpleSigning(t *testing.T) {
	d := digest.FromString("image")
	for _, tc := range []struct {
		name, payload string
		want          digest.Digest
		reason        string
	}{
		{"cosign payload", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d.String() + `"},"type":"cosign container image signature"},"optional":null}`, d, ""},
		{"not JSON", `sha256:abc`, "", ReasonMalformed},
		{"no digest", `{"critical":{"image":{}}}`, "", ReasonMalformed},
		{"bad digest", `{"critical":{"image":{"docker-manifest-digest":"sha256:zz"}}}`, "", ReasonMalformed},
		{"empty", ``, "", ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSimpleSigning([]byte(tc.payload))
			if got != tc.want || (tc.reason == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), tc.reason) {
				t.Fatalf("parseSimpleSigning = %q, %v; want %q, %q", got, err, tc.want, tc.reason)
			}
		})
	}
}

func TestParseBundleRejectsGarbage(t *testing.T) {
	for _, in := range []string{``, `{}`, `[]`, `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"!!","signatures":[]}}`} {
		if _, err := parseBundle([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), ReasonMalformed) {
			t.Errorf("parseBundle(%q) = %v, want %s", in, err, ReasonMalformed)
		}
	}
}

// signPayload signs a simple-signing payload for d with a new ECDSA key
// and returns the key's PEM and the candidate.
func signPayload(t testing.TB, d digest.Digest) (string, candidate) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"critical":{"image":{"docker-manifest-digest":"` + d.String() + `"},"type":"cosign container image signature"}}`)
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), candidate{format: FormatCosignTag, payload: payload, signature: sig}
}

func TestVerifyTag(t *testing.T) {
	d := digest.FromString("image")
	pub, c := signPayload(t, d)
	otherPub, _ := signPayload(t, d)
	mat := loadMaterials([]meta.TrustMaterial{{Name: "release", Kind: KindCosignKey, Data: pub}, {Name: "other", Kind: KindCosignKey, Data: otherPub}})
	tampered := c
	tampered.payload = append([]byte(nil), c.payload...)
	tampered.payload[len(tampered.payload)-3] = ' '
	for _, tc := range []struct {
		name   string
		c      candidate
		keys   []string
		dgst   digest.Digest
		signer string
		reason string
	}{
		{"trusted key", c, []string{"other", "release"}, d, "key:release", ""},
		{"untrusted key", c, []string{"other"}, d, "", ReasonUntrusted},
		{"unknown key name", c, []string{"gone"}, d, "", ReasonUntrusted},
		{"signature of another digest", c, []string{"release"}, digest.FromString("other"), "", ReasonDigestMismatch},
		{"tampered payload", tampered, []string{"release"}, d, "", ReasonUntrusted},
		{"keyless in tag scheme, no keyless rule", candidate{hasCert: true}, nil, d, "", ReasonUntrusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Rule{CosignKeys: tc.keys}
			signer, err := verifyTag(&tc.c, tc.dgst, r, mat)
			if signer != tc.signer || (tc.reason == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), tc.reason) {
				t.Fatalf("verifyTag = %q, %v; want %q, %q", signer, err, tc.signer, tc.reason)
			}
		})
	}
}

func TestRuleValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Rule
		ok   bool
	}{
		{"keys", Rule{Repositories: "app/**", Mode: ModeEnforce, CosignKeys: []string{"k"}}, true},
		{"audit keyless regex", Rule{Mode: ModeAudit, Keyless: []Keyless{{TrustedRoot: "r", IdentityRegex: ".*@example.com", Issuer: "https://issuer"}}}, true},
		{"no requirement", Rule{Mode: ModeEnforce}, false},
		{"bad mode", Rule{Mode: "warn", CosignKeys: []string{"k"}}, false},
		{"bad pattern", Rule{Repositories: "[", Mode: ModeEnforce, CosignKeys: []string{"k"}}, false},
		{"keyless without issuer", Rule{Mode: ModeEnforce, Keyless: []Keyless{{TrustedRoot: "r", Identity: "a"}}}, false},
		{"keyless bad regex", Rule{Mode: ModeEnforce, Keyless: []Keyless{{TrustedRoot: "r", IdentityRegex: "(", Issuer: "i"}}}, false},
		{"notation not a policy", Rule{Mode: ModeEnforce, Notation: &Notation{TrustPolicy: []byte(`{"version":"1.0"}`)}}, false},
		{"notation", Rule{Mode: ModeEnforce, Notation: &Notation{TrustPolicy: []byte(`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}`)}}, true},
		{"unknown role", Rule{Mode: ModeEnforce, CosignKeys: []string{"k"}, ExemptRoles: []string{"root"}}, false},
		{"too many signers", Rule{Mode: ModeEnforce, CosignKeys: []string{"k"}, MinSignatures: 17}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.validate()
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestParseMaterial(t *testing.T) {
	pub, _ := signPayload(t, digest.FromString("x"))
	for _, tc := range []struct {
		name string
		m    meta.TrustMaterial
		ok   bool
	}{
		{"cosign key", meta.TrustMaterial{Name: "k", Kind: KindCosignKey, Data: pub}, true},
		{"not a key", meta.TrustMaterial{Name: "k", Kind: KindCosignKey, Data: "hello"}, false},
		{"bad name", meta.TrustMaterial{Name: "a/b", Kind: KindCosignKey, Data: pub}, false},
		{"unknown kind", meta.TrustMaterial{Name: "k", Kind: "gpg", Data: pub}, false},
		{"not a trusted root", meta.TrustMaterial{Name: "k", Kind: KindTrustedRoot, Data: `{"mediaType":"x"}`}, false},
		{"no certificate", meta.TrustMaterial{Name: "k", Kind: KindNotationCA, Data: pub}, false},
		{"huge", meta.TrustMaterial{Name: "k", Kind: KindNotationCA, Data: strings.Repeat("A", maxMaterial+1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseMaterial(tc.m); (err == nil) != tc.ok {
				t.Fatalf("parseMaterial = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestIsSignatureArtifact(t *testing.T) {
	img := func(layers ...string) *meta.Manifest {
		var ls []string
		for _, l := range layers {
			ls = append(ls, `{"mediaType":"`+l+`","digest":"`+digest.FromString(l).String()+`","size":1}`)
		}
		return &meta.Manifest{Content: []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			digest.FromString("c").String() + `","size":1},"layers":[` + strings.Join(ls, ",") + `]}`)}
	}
	for _, tc := range []struct {
		name string
		m    *meta.Manifest
		want bool
	}{
		{"cosign signature", img(mediaSimpleSigning), true},
		{"sigstore bundle", img(mediaBundle), true},
		{"notation", img(mediaJWS), true},
		{"image", img("application/vnd.oci.image.layer.v1.tar+gzip"), false},
		// An image may not hide behind one signature layer or an annotation.
		{"image with a signature layer", img(mediaSimpleSigning, "application/vnd.oci.image.layer.v1.tar+gzip"), false},
		{"no layers", img(), false},
		{"not JSON", &meta.Manifest{Content: []byte(mediaSimpleSigning)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isSignatureArtifact(tc.m); got != tc.want {
				t.Fatalf("isSignatureArtifact = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzSimpleSigning(f *testing.F) {
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:4fa6a8afd60ce41904eaa10e8afbac0a21f55c8bc3b816d7dd3f6ea87ebc3a1c"}}}`))
	f.Add([]byte(`{"critical":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseSimpleSigning(b)
		if err == nil && d.Validate() != nil {
			t.Fatalf("accepted invalid digest %q", d)
		}
	})
}

func FuzzBundle(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEQ="}]}}`))
	f.Add([]byte(`{}`))
	d := digest.FromString("image")
	pub, _ := signPayload(f, d)
	mat := loadMaterials([]meta.TrustMaterial{{Name: "release", Kind: KindCosignKey, Data: pub}})
	r := &Rule{CosignKeys: []string{"release"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		bd, err := parseBundle(b)
		if err != nil {
			return
		}
		// Verifying whatever parsed never panics and never succeeds
		// without a signature by the key.
		c := candidate{format: FormatBundle, bundle: bd}
		if signer, err := verifyBundle(&c, d, r, mat); err == nil {
			t.Fatalf("a fuzzed bundle verified as %q", signer)
		}
	})
}

func FuzzRule(f *testing.F) {
	f.Add("app/**", "enforce", `{"cosign_keys":["k"],"min_signatures":2,"exempt_robots":["ci"]}`)
	f.Add("**", "audit", `{"keyless":[{"trusted_root":"r","identity_regex":".*","issuer":"i"}]}`)
	f.Add("", "enforce", `{"notation":{"trust_policy":{"version":"1.0","trustPolicies":[]}}}`)
	f.Fuzz(func(t *testing.T, repos, mode, spec string) {
		r, err := ruleFrom(meta.SigningRule{ID: 1, Repositories: repos, Mode: mode, Spec: spec})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		// A valid rule survives its own encoding.
		enc, err := r.spec()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ruleFrom(meta.SigningRule{ID: 1, Repositories: repos, Mode: mode, Spec: enc}); err != nil {
			t.Fatalf("re-read %q: %v", enc, err)
		}
	})
}

func FuzzMaterial(f *testing.F) {
	pub, _ := signPayload(f, digest.FromString("x"))
	f.Add(KindCosignKey, pub)
	f.Add(KindNotationCA, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	f.Add(KindTrustedRoot, `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[]}`)
	f.Fuzz(func(t *testing.T, kind, data string) {
		m := meta.TrustMaterial{Name: "k", Kind: kind, Data: data}
		if _, err := parseMaterial(m); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
		loadMaterials([]meta.TrustMaterial{m}) // never panics
	})
}

func FuzzTagBundle(f *testing.F) {
	f.Add([]byte(`{}`), "", `{"SignedEntryTimestamp":"AAAA","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"00"}}`)
	f.Add([]byte(`{"critical":{}}`), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", `{"Payload":{"body":"!!"}}`)
	f.Fuzz(func(t *testing.T, payload []byte, cert, rekor string) {
		b, err := tagBundle(payload, []byte("sig"), cert, "", rekor)
		if err == nil && b == nil {
			t.Fatal("no bundle and no error")
		}
	})
}
