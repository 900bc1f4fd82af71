package trust

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"

	"github.com/berth-registry/berth/internal/registry"
)

// virtualSigstore is sigstore-go's test Fulcio, Rekor and TSA, and its
// trusted_root.json.
func virtualSigstore(t *testing.T) (*ca.VirtualSigstore, string) {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	// The virtual logs' IDs are their hex key IDs as bytes; a
	// trusted_root.json holds the raw key IDs.
	rawIDs := func(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		out := map[string]*root.TransparencyLog{}
		for id, l := range logs {
			c := *l
			c.ID, _ = hex.DecodeString(id)
			out[id] = &c
		}
		return out
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), rawIDs(vs.CTLogs()),
		vs.TimestampingAuthorities(), rawIDs(vs.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	js, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return vs, string(js)
}

// keylessBundle signs content (a manifest) as identity and returns the
// Sigstore bundle JSON cosign --new-bundle-format would attach. edit, if
// not nil, may break the bundle first.
func keylessBundle(t *testing.T, vs *ca.VirtualSigstore, identity string, content []byte, at time.Time, edit func(*protobundle.Bundle)) []byte {
	t.Helper()
	ent, err := vs.SignAtTime(identity, "https://issuer.example", content, at)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	ms := sc.(*bundle.MessageSignature)
	tss, _ := ent.Timestamps()
	entries, _ := ent.TlogEntries()
	var tles []*protorekor.TransparencyLogEntry
	for _, e := range entries {
		tle := e.TransparencyLogEntry()
		// Bundles v0.3 need an inclusion proof: the virtual log proves a
		// tree of one entry, index 0.
		ip, err := vs.GetInclusionProof(tle.CanonicalizedBody)
		if err != nil {
			t.Fatal(err)
		}
		rootHash, _ := hex.DecodeString(*ip.RootHash)
		tle.LogIndex = 0
		tle.InclusionProof = &protorekor.InclusionProof{LogIndex: 0, RootHash: rootHash, TreeSize: *ip.TreeSize,
			Checkpoint: &protorekor.Checkpoint{Envelope: *ip.Checkpoint}}
		// tlog.Entry keeps the promise (SET) to itself: sign it again.
		set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
			IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId)})
		if err != nil {
			t.Fatal(err)
		}
		tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
		tle.KindVersion = &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.1"}
		tles = append(tles, tle)
	}
	var ts []*protocommon.RFC3161SignedTimestamp
	for _, b := range tss {
		ts = append(ts, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: b})
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               tles,
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: ts},
		},
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: ms.Digest()},
			Signature:     ms.Signature(),
		}},
	}
	if edit != nil {
		edit(pb)
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		t.Fatal(err)
	}
	js, err := b.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestKeyless(t *testing.T) {
	e := newEnv(t)
	vs, trustedRoot := virtualSigstore(t)
	e.material("p", "sigstore", KindTrustedRoot, trustedRoot)
	e.rule("p", Rule{Repositories: "**", Mode: ModeEnforce, Keyless: []Keyless{{TrustedRoot: "sigstore",
		IdentityRegex: "^https://ci\\.example/.*", Issuer: "https://issuer.example"}}})

	for _, tc := range []struct {
		name     string
		identity string
		sign     func(content []byte) []byte // nil: unsigned
		reason   string
	}{
		{"trusted identity", "https://ci.example/release", nil, ""},
		{"unsigned", "", nil, ReasonNoSignature},
		{"other identity", "mallory@example.com", nil, ReasonIdentity},
		{"signature of another manifest", "https://ci.example/release", func([]byte) []byte { return []byte("another manifest") }, ReasonDigestMismatch},
		{"broken inclusion proof", "https://ci.example/release", nil, "broken"},
		{"logged after the certificate expired", "https://ci.example/release", nil, ReasonExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, content := e.image("p/app", strings.ReplaceAll(tc.name, " ", "-"))
			if tc.identity != "" {
				signed := content
				if tc.sign != nil {
					signed = tc.sign(content)
				}
				var edit func(*protobundle.Bundle)
				if tc.reason == "broken" {
					edit = func(pb *protobundle.Bundle) {
						for _, tle := range pb.VerificationMaterial.TlogEntries {
							tle.InclusionProof.RootHash[0] ^= 0xff
						}
					}
				}
				at := time.Now()
				if tc.reason == ReasonExpired {
					at = at.Add(30 * time.Minute) // Fulcio certificates live minutes
				}
				js := keylessBundle(t, vs, tc.identity, signed, at, edit)
				e.referrer("p/app", d, int64(len(content)), mediaBundle, mediaBundle, js)
			}
			err := e.pull("p/app", d)
			switch {
			case tc.reason == "":
				if err != nil {
					t.Fatalf("pull = %v", err)
				}
				st, _ := e.trust.Status(ctx, "p/app", d)
				if s := st.Rules[0].Signatures[0]; !s.Valid || s.Signer != "keyless:https://ci.example/release (https://issuer.example)" {
					t.Fatalf("signature status %+v", s)
				}
			case !errors.Is(err, registry.ErrDenied):
				t.Fatalf("pull = %v, want denied", err)
			case tc.reason != "broken" && !strings.Contains(err.Error(), tc.reason):
				t.Fatalf("pull = %v, want %q", err, tc.reason)
			}
		})
	}
}

// TestKeylessTagScheme: cosign v2's default keyless signature, in the
// tag scheme with the certificate and the Rekor bundle as annotations.
func TestKeylessTagScheme(t *testing.T) {
	e := newEnv(t)
	vs, trustedRoot := virtualSigstore(t)
	e.material("p", "sigstore", KindTrustedRoot, trustedRoot)
	e.rule("p", Rule{Repositories: "**", Mode: ModeEnforce, Keyless: []Keyless{{TrustedRoot: "sigstore",
		Identity: "https://ci.example/release", Issuer: "https://issuer.example"}}})
	sign := func(t *testing.T, d digest.Digest, identity string, payloadFor digest.Digest, withRekor bool) {
		payload := []byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"` + payloadFor.String() +
			`"},"type":"cosign container image signature"},"optional":null}`)
		ent, err := vs.SignAtTime(identity, "https://issuer.example", payload, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		vc, _ := ent.VerificationContent()
		sc, _ := ent.SignatureContent()
		entries, _ := ent.TlogEntries()
		tle := entries[0].TransparencyLogEntry()
		body := base64.StdEncoding.EncodeToString(tle.CanonicalizedBody)
		logID := hex.EncodeToString(tle.LogId.KeyId)
		set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: body, IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex, LogID: logID})
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": map[string]any{
			"body": body, "integratedTime": tle.IntegratedTime, "logIndex": tle.LogIndex, "logID": logID}})
		ann := map[string]string{annotationCosign: base64.StdEncoding.EncodeToString(sc.(*bundle.MessageSignature).Signature()),
			annotationCert: pemCert(vc.Certificate().Raw)}
		if withRekor {
			ann[annotationBundle] = string(rb)
		}
		cfg := e.blob("p/app", v1.MediaTypeImageConfig, []byte(`{"architecture":"","os":""}`))
		layer := e.blob("p/app", mediaSimpleSigning, payload)
		layer.Annotations = ann
		tag, _ := signatureTag(d.String())
		e.manifest("p/app", tag, v1.Manifest{Config: cfg, Layers: []v1.Descriptor{layer}})
		e.settle()
	}
	for _, tc := range []struct {
		name, identity string
		other, noRekor bool
		reason         string
	}{
		{"trusted identity", "https://ci.example/release", false, false, ""},
		{"other identity", "https://ci.example/other", false, false, ReasonIdentity},
		{"payload of another manifest", "https://ci.example/release", true, false, ReasonDigestMismatch},
		{"no Rekor bundle", "https://ci.example/release", false, true, ReasonExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := e.image("p/app", strings.ReplaceAll(tc.name, " ", "-"))
			signed := d
			if tc.other {
				signed = digest.FromString("another manifest")
			}
			sign(t, d, tc.identity, signed, !tc.noRekor)
			err := e.pull("p/app", d)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("pull = %v", err)
				}
				return
			}
			if !errors.Is(err, registry.ErrDenied) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("pull = %v, want %q", err, tc.reason)
			}
		})
	}
}
