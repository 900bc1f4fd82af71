package trust

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// cosignKey is a key pair signing simple-signing payloads.
type cosignKey struct {
	priv *ecdsa.PrivateKey
	pub  string
}

func newCosignKey(t *testing.T) cosignKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return cosignKey{k, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

// signTag pushes a tag-scheme signature of d by k (payload as given, or
// cosign's for d when nil) as cosign does.
func (e *env) signTag(repo string, d digest.Digest, k cosignKey, payload []byte) {
	e.t.Helper()
	if payload == nil {
		payload = []byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"` + d.String() + `"},"type":"cosign container image signature"},"optional":null}`)
	}
	h := sha256.Sum256(payload)
	sig, _ := ecdsa.SignASN1(rand.Reader, k.priv, h[:])
	cfg := e.blob(repo, v1.MediaTypeImageConfig, []byte(`{"architecture":"","os":"","rootfs":{"type":"layers"}}`))
	layer := e.blob(repo, mediaSimpleSigning, payload)
	layer.Annotations = map[string]string{annotationCosign: base64.StdEncoding.EncodeToString(sig)}
	tag, _ := signatureTag(d.String())
	e.manifest(repo, tag, v1.Manifest{Config: cfg, Layers: []v1.Descriptor{layer}})
	e.settle()
}

func TestGate(t *testing.T) {
	e := newEnv(t)
	release, qa, stranger := newCosignKey(t), newCosignKey(t), newCosignKey(t)
	e.material("p", "release", KindCosignKey, release.pub)
	e.material("p", "qa", KindCosignKey, qa.pub)
	e.rule("p", Rule{Repositories: "app", Mode: ModeEnforce, CosignKeys: []string{"release", "qa"},
		ExemptRoles: []string{"maintainer"}, ExemptRobots: []string{"ci"}})
	e.rule("p", Rule{Repositories: "two", Mode: ModeEnforce, CosignKeys: []string{"release", "qa"}, MinSignatures: 2})
	e.rule("p", Rule{Repositories: "audited", Mode: ModeAudit, CosignKeys: []string{"release"}})

	signed, _ := e.image("p/app", "signed")
	e.signTag("p/app", signed, release, nil)
	unsigned, _ := e.image("p/app", "unsigned")

	t.Run("signed and unsigned", func(t *testing.T) {
		if err := e.pull("p/app", signed); err != nil {
			t.Fatalf("signed: %v", err)
		}
		err := e.pull("p/app", unsigned)
		if !errors.Is(err, registry.ErrDenied) || !strings.Contains(err.Error(), `rule 1 (repositories "app"): no signature`) {
			t.Fatalf("unsigned: %v", err)
		}
		byStranger, _ := e.image("p/app", "stranger")
		e.signTag("p/app", byStranger, stranger, nil)
		if err := e.pull("p/app", byStranger); err == nil || !strings.Contains(err.Error(), ReasonUntrusted) {
			t.Fatalf("signed by an unknown key: %v", err)
		}
		if len(e.events) != 2 || e.events[0].Action != "signature.deny" || e.events[0].Digest != unsigned.String() {
			t.Fatalf("audit events %+v", e.events)
		}
	})

	t.Run("signatures stay pullable", func(t *testing.T) {
		tag, _ := signatureTag(signed.String())
		if _, err := e.reg.GetManifest(registry.ForClient(ctx), "p/app", tag); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("exemptions", func(t *testing.T) {
		defer func() { e.caller, e.role = [3]string{}, "" }()
		for _, tc := range []struct {
			name   string
			caller [3]string
			role   string
			ok     bool
		}{
			{"anonymous", [3]string{}, "", false},
			{"exempt robot", [3]string{"robot", "ci"}, "", true},
			{"other robot", [3]string{"robot", "deploy"}, "", false},
			{"maintainer", [3]string{"user", "alice"}, "maintainer", true},
			{"developer", [3]string{"user", "bob"}, "developer", false},
			{"system administrator (admin not exempt)", [3]string{"user", "root", "admin"}, "", false},
			// A user named like the exempt robot is not the robot.
			{"user named ci", [3]string{"user", "ci"}, "", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.caller, e.role = tc.caller, tc.role
				if err := e.pull("p/app", unsigned); (err == nil) != tc.ok {
					t.Fatalf("pull = %v, want allowed %v", err, tc.ok)
				}
			})
		}
	})

	t.Run("two signers", func(t *testing.T) {
		d, _ := e.image("p/two", "v1")
		e.signTag("p/two", d, release, nil)
		if err := e.pull("p/two", d); err == nil || !strings.Contains(err.Error(), "too few valid signatures: 1 of 2") {
			t.Fatalf("one signer: %v", err)
		}
		// The same key again is the same signer.
		e.referrer("p/two", d, 0, mediaCosignSig, mediaSimpleSigning, []byte("{}"))
		if err := e.pull("p/two", d); err == nil {
			t.Fatal("a malformed second signature met the rule")
		}
		e.signTag("p/two", d, qa, nil) // replaces the tag: only qa's now
		if err := e.pull("p/two", d); err == nil {
			t.Fatal("one signer (after the tag moved) met a two-signer rule")
		}
	})

	t.Run("audit mode", func(t *testing.T) {
		d, _ := e.image("p/audited", "v1")
		before := len(e.events)
		if err := e.pull("p/audited", d); err != nil {
			t.Fatalf("audit mode refused: %v", err)
		}
		if len(e.events) != before+1 || e.events[before].Action != "signature.audit" {
			t.Fatalf("audit events %+v", e.events[before:])
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			payload []byte
			reason  string
		}{
			{"payload not JSON", []byte("\x00\xffnot json"), ReasonMalformed},
			{"payload of another digest", []byte(`{"critical":{"image":{"docker-manifest-digest":"` + signed.String() + `"}}}`), ReasonDigestMismatch},
			{"huge payload", []byte(`{"pad":"` + strings.Repeat("x", maxPayload) + `"}`), ReasonMalformed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, _ := e.image("p/app", strings.ReplaceAll(tc.name, " ", "-"))
				e.signTag("p/app", d, release, tc.payload)
				st, err := e.trust.Status(ctx, "p/app", d)
				if err != nil {
					t.Fatal(err)
				}
				if rs := st.Rules[0]; rs.Met || len(rs.Signatures) != 1 || !strings.HasPrefix(rs.Signatures[0].Reason, tc.reason) {
					t.Fatalf("status %+v", rs)
				}
			})
		}
		d, content := e.image("p/app", "bad-referrers")
		e.referrer("p/app", d, int64(len(content)), mediaBundle, mediaBundle, []byte("not a bundle"))
		e.referrer("p/app", d, int64(len(content)), mediaBundle, mediaBundle, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"x509CertificateChain":{"certificates":[`+strings.Repeat(`{"rawBytes":"AAAA"},`, 2000)+`{"rawBytes":"AAAA"}]}}}`))
		e.referrer("p/app", d, int64(len(content)), mediaNotation, mediaJWS, []byte(`{"payload":"!!"}`))
		e.referrer("p/app", d, int64(len(content)), mediaNotation, "application/x-unknown", []byte(`x`))
		st, err := e.trust.Status(ctx, "p/app", d)
		if err != nil {
			t.Fatal(err)
		}
		if rs := st.Rules[0]; rs.Met || len(rs.Signatures) != 4 {
			t.Fatalf("status %+v", rs)
		}
		for _, s := range st.Rules[0].Signatures {
			if s.Valid || s.Reason == "" {
				t.Errorf("signature %+v", s)
			}
		}
	})

	t.Run("stored results", func(t *testing.T) {
		// Signatures pushed since dropped the repository's results: the
		// first pull verifies again, the next ones read the stored result.
		if err := e.pull("p/app", signed); err != nil {
			t.Fatal(err)
		}
		before := testutil.ToFloat64(e.trust.metrics.verifications.WithLabelValues("met"))
		for range 5 {
			if err := e.pull("p/app", signed); err != nil {
				t.Fatal(err)
			}
		}
		if n := testutil.ToFloat64(e.trust.metrics.verifications.WithLabelValues("met")) - before; n != 0 {
			t.Fatalf("%v verifications for pulls of a verified manifest", n)
		}
		// Removing the key changes the version: verified once more, refused.
		ms, _ := e.trust.Materials(ctx, "p")
		if err := e.trust.DeleteMaterial(ctx, "p", ms[0].ID); err != nil {
			t.Fatal(err)
		}
		// The change re-verifies the stored results in the background,
		// before any pull.
		e.settle()
		version, res, found, err := e.store.SignatureCheck(ctx, "p", "p/app", signed)
		if err != nil || !found || res.Version != version || !strings.Contains(res.Result, ReasonUntrusted) {
			t.Fatalf("after the key was removed: version %d, result %+v, %v, %v", version, res, found, err)
		}
		if err := e.pull("p/app", signed); err == nil {
			t.Fatal("a signature by a removed key still counts")
		}
	})
}

func TestIndexCoversChildren(t *testing.T) {
	for _, covers := range []bool{true, false} {
		e := newEnv(t)
		k := newCosignKey(t)
		e.material("p", "release", KindCosignKey, k.pub)
		e.rule("p", Rule{Repositories: "**", Mode: ModeEnforce, CosignKeys: []string{"release"}, IndexCoversChildren: &covers})
		child, content := e.image("p/multi", "amd64")
		idx, _ := json.Marshal(v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex,
			Manifests: []v1.Descriptor{{MediaType: v1.MediaTypeImageManifest, Digest: child, Size: int64(len(content)),
				Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}}})
		res, err := e.reg.PutManifest(ctx, "p/multi", "latest", nil, v1.MediaTypeImageIndex, idx)
		if err != nil {
			t.Fatal(err)
		}
		e.signTag("p/multi", res.Digest, k, nil)
		if err := e.pull("p/multi", res.Digest); err != nil {
			t.Fatalf("signed index: %v", err)
		}
		err = e.pull("p/multi", child)
		if covers != (err == nil) {
			t.Fatalf("index_covers_children %v: child pull = %v", covers, err)
		}
		if covers {
			st, _ := e.trust.Status(ctx, "p/multi", child)
			if st.Rules[0].CoveredBy != res.Digest {
				t.Fatalf("status %+v", st.Rules[0])
			}
		}
	}
}

// countingStore counts the gate's lookups.
type countingStore struct {
	Store
	checks atomic.Int64
}

func (c *countingStore) SignatureCheck(ctx context.Context, project, repo string, d digest.Digest) (int64, meta.SignatureResult, bool, error) {
	c.checks.Add(1)
	return c.Store.SignatureCheck(ctx, project, repo, d)
}

// TestNoPolicyRemembered: pulls from a project that never had a signature
// policy look it up once per PolicyTTL, not once per pull, and a rule
// added through the same instance applies to the very next pull.
func TestNoPolicyRemembered(t *testing.T) {
	e := newEnv(t)
	cs := &countingStore{Store: e.store.(Store)}
	e.trust.store = cs
	d, _ := e.image("p/app", "v1")
	for range 5 {
		if err := e.pull("p/app", d); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.checks.Load(); n != 1 {
		t.Fatalf("5 pulls without a policy looked it up %d times, want 1", n)
	}
	k := newCosignKey(t)
	e.material("p", "release", KindCosignKey, k.pub)
	e.rule("p", Rule{Repositories: "**", Mode: ModeEnforce, CosignKeys: []string{"release"}})
	if err := e.pull("p/app", d); !errors.Is(err, registry.ErrDenied) {
		t.Fatalf("unsigned pull right after an enforce rule was added: %v, want denied", err)
	}

	e.trust.opts.PolicyTTL = time.Millisecond
	q, _ := e.image("q/app", "v1")
	before := cs.checks.Load()
	for range 2 {
		time.Sleep(2 * time.Millisecond)
		if err := e.pull("q/app", q); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.checks.Load() - before; n != 2 {
		t.Fatalf("2 pulls PolicyTTL apart looked the policy up %d times, want 2", n)
	}
}
