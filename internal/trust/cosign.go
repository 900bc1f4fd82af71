package trust

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Limits on what verification reads.
const (
	maxPayload    = 64 << 10 // a simple-signing payload
	maxBundle     = 1 << 20  // a Sigstore bundle or notation envelope
	maxSignatures = 32       // signatures examined per manifest and format
)

// candidate is one signature found for a manifest: where it is, and what
// verifying it needs.
type candidate struct {
	format   string
	artifact digest.Digest // the signature manifest
	// cosign tag scheme
	payload   []byte
	signature []byte
	hasCert   bool
	// keyless tag-scheme signature as a bundle (or why it is not one)
	tagBundle *bundle.Bundle
	tagErr    error
	// bundle
	bundle *bundle.Bundle
	// notation
	envelope     []byte
	envelopeType string
	// err: the signature could not be read or parsed (its reason).
	err error
}

// simpleSigning is the part of cosign's simple-signing payload verified.
type simpleSigning struct {
	Critical struct {
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// parseSimpleSigning reads a simple-signing payload and returns the
// digest it signs.
func parseSimpleSigning(b []byte) (digest.Digest, error) {
	var p simpleSigning
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("%s: payload is not JSON: %v", ReasonMalformed, err)
	}
	d, err := digest.Parse(p.Critical.Image.DockerManifestDigest)
	if err != nil {
		return "", fmt.Errorf("%s: payload names no valid digest", ReasonMalformed)
	}
	return d, nil
}

// tagCandidates reads the cosign signature tag of dgst in repo.
func (v *Verifier) tagCandidates(ctx context.Context, repo string, dgst digest.Digest) []candidate {
	tag, ok := signatureTag(dgst.String())
	if !ok {
		return nil
	}
	sd, err := v.src.ResolveTag(ctx, repo, tag)
	if err != nil {
		return nil
	}
	return v.simpleSigningCandidates(ctx, repo, sd)
}

// cosignReferrerCandidates reads cosign's simple-signing signatures stored
// as referrers (cosign sign --registry-referrers-mode=oci-1-1).
func (v *Verifier) cosignReferrerCandidates(ctx context.Context, repo string, dgst digest.Digest) []candidate {
	refs, err := v.src.Referrers(ctx, repo, dgst, mediaCosignSig)
	if err != nil {
		return nil
	}
	var out []candidate
	for i, d := range refs {
		if i == maxSignatures {
			break
		}
		out = append(out, v.simpleSigningCandidates(ctx, repo, d.Digest)...)
	}
	return out
}

// simpleSigningCandidates reads the simple-signing layers of the signature
// manifest sd.
func (v *Verifier) simpleSigningCandidates(ctx context.Context, repo string, sd digest.Digest) []candidate {
	m, err := v.readManifest(ctx, repo, sd)
	if err != nil {
		return []candidate{{format: FormatCosignTag, artifact: sd, err: err}}
	}
	var out []candidate
	for _, l := range m.Layers {
		if l.MediaType != mediaSimpleSigning {
			continue
		}
		if len(out) == maxSignatures {
			break
		}
		c := candidate{format: FormatCosignTag, artifact: sd, hasCert: l.Annotations[annotationCert] != ""}
		c.signature, err = base64.StdEncoding.DecodeString(l.Annotations[annotationCosign])
		if err != nil || len(c.signature) == 0 {
			c.err = fmt.Errorf("%s: layer %s has no base64 signature annotation", ReasonMalformed, l.Digest)
		} else if c.payload, err = v.readBlob(ctx, repo, l.Digest, maxPayload); err != nil {
			c.err = err
		} else if c.hasCert {
			c.tagBundle, c.tagErr = tagBundle(c.payload, c.signature, l.Annotations[annotationCert],
				l.Annotations[annotationChain], l.Annotations[annotationBundle])
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return []candidate{{format: FormatCosignTag, artifact: sd, err: fmt.Errorf("%s: %s holds no simple-signing layer", ReasonMalformed, sd)}}
	}
	return out
}

// verifyTag checks a tag-scheme signature against the rule's keys, then,
// when it carries a Fulcio certificate, its keyless identities.
func verifyTag(c *candidate, dgst digest.Digest, r *Rule, mat *materials) (signer string, err error) {
	signer = ""
	for _, name := range r.CosignKeys {
		key := mat.keys[name]
		if key == nil || key.VerifySignature(bytes.NewReader(c.signature), bytes.NewReader(c.payload)) != nil {
			continue
		}
		signer = "key:" + name
		break
	}
	if signer == "" && c.hasCert && len(r.Keyless) > 0 {
		if c.tagErr != nil {
			return "", c.tagErr
		}
		var errs []error
		if signer, errs = verifyKeyless(c.tagBundle, verify.WithArtifact(bytes.NewReader(c.payload)), r, mat); signer == "" {
			return "", classify(errs, ReasonUntrusted)
		}
	}
	if signer == "" {
		if c.hasCert && len(r.CosignKeys) == 0 {
			return "", fmt.Errorf("%s: a keyless signature, and the rule trusts no keyless identity", ReasonUntrusted)
		}
		return "", errors.New(ReasonUntrusted)
	}
	signed, err := parseSimpleSigning(c.payload)
	if err != nil {
		return "", err
	}
	if signed != dgst {
		return "", fmt.Errorf("%s: signed by %s for %s", ReasonDigestMismatch, signer, signed)
	}
	return signer, nil
}

// referrerCandidates reads the referrers of dgst of an artifact type whose
// first layer of one of the media types holds the signature.
func (v *Verifier) referrerCandidates(ctx context.Context, repo string, dgst digest.Digest, artifactType, format string) []candidate {
	refs, err := v.src.Referrers(ctx, repo, dgst, artifactType)
	if err != nil {
		return nil
	}
	var out []candidate
	for i, d := range refs {
		if i == maxSignatures {
			break
		}
		c := candidate{format: format, artifact: d.Digest}
		m, err := v.readManifest(ctx, repo, d.Digest)
		if err == nil && (len(m.Layers) == 0 || m.Subject == nil || m.Subject.Digest != dgst) {
			err = fmt.Errorf("%s: signature manifest has no layer or another subject", ReasonMalformed)
		}
		var blob []byte
		if err == nil {
			blob, err = v.readBlob(ctx, repo, m.Layers[0].Digest, maxBundle)
		}
		if err == nil {
			switch format {
			case FormatBundle:
				c.bundle, err = parseBundle(blob)
			default:
				c.envelope, c.envelopeType = blob, m.Layers[0].MediaType
				if c.envelopeType != mediaJWS && c.envelopeType != mediaCOSE {
					err = fmt.Errorf("%s: envelope type %q", ReasonMalformed, c.envelopeType)
				}
			}
		}
		c.err = err
		out = append(out, c)
	}
	return out
}

// parseBundle reads a Sigstore bundle.
func parseBundle(b []byte) (*bundle.Bundle, error) {
	var bd bundle.Bundle
	if err := bd.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("%s: not a Sigstore bundle: %v", ReasonMalformed, err)
	}
	return &bd, nil
}

// verifyBundle checks a Sigstore bundle: against each of the rule's keys,
// then each keyless identity under its trusted root.
func verifyBundle(c *candidate, dgst digest.Digest, r *Rule, mat *materials) (string, error) {
	raw, err := hex.DecodeString(dgst.Encoded())
	if err != nil || dgst.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("%s: only sha256 manifests are verified", ReasonUnsupported)
	}
	artifact := verify.WithArtifactDigest("sha256", raw)
	var errs []error
	if vc, err := c.bundle.VerificationContent(); err == nil && vc.PublicKey() != nil {
		for _, name := range r.CosignKeys {
			pub := mat.pubs[name]
			if pub == nil {
				continue
			}
			tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
				return root.NewExpiringKey(mat.keys[name], time.Time{}, time.Time{}), nil
			})
			sv, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
			if err != nil {
				return "", err
			}
			if _, err := sv.Verify(c.bundle, verify.NewPolicy(artifact, verify.WithKey())); err != nil {
				errs = append(errs, err)
				continue
			}
			return "key:" + name, nil
		}
		return "", classify(errs, ReasonUntrusted)
	}
	signer, kerrs := verifyKeyless(c.bundle, artifact, r, mat)
	if signer != "" {
		return signer, nil
	}
	errs = append(errs, kerrs...)
	return "", classify(errs, ReasonUntrusted)
}

// verifyKeyless checks a bundle against each keyless identity of the
// rule under its trusted root: the signer, or why each failed.
func verifyKeyless(b *bundle.Bundle, artifact verify.ArtifactPolicyOption, r *Rule, mat *materials) (string, []error) {
	var errs []error
	for _, k := range r.Keyless {
		tr := mat.roots[k.TrustedRoot]
		if tr == nil {
			errs = append(errs, fmt.Errorf("trusted root %q is not uploaded", k.TrustedRoot))
			continue
		}
		id, err := verify.NewShortCertificateIdentity(k.Issuer, k.IssuerRegex, k.Identity, k.IdentityRegex)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		opts := []verify.VerifierOption{verify.WithObserverTimestamps(1)}
		if len(tr.RekorLogs()) > 0 {
			opts = append(opts, verify.WithTransparencyLog(1))
		}
		sv, err := verify.NewVerifier(tr, opts...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := sv.Verify(b, verify.NewPolicy(artifact, verify.WithCertificateIdentity(id)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		signer := "keyless"
		if res.Signature != nil && res.Signature.Certificate != nil {
			signer = "keyless:" + res.Signature.Certificate.SubjectAlternativeName + " (" + res.Signature.Certificate.Issuer + ")"
		}
		return signer, nil
	}
	return "", errs
}

// classify turns library errors into a reason: the most telling class
// first, then the libraries' own words.
func classify(errs []error, fallback string) error {
	if len(errs) == 0 {
		return errors.New(fallback)
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	sort.Strings(msgs)
	all := strings.Join(msgs, "; ")
	low := strings.ToLower(all)
	reason := fallback
	switch {
	case strings.Contains(low, "certificateidentity") || strings.Contains(low, "expected san") || strings.Contains(low, "expected issuer"):
		reason = ReasonIdentity
	case strings.Contains(low, "artifact digest") || strings.Contains(low, "message digest") || strings.Contains(low, "match digest"):
		reason = ReasonDigestMismatch
	case strings.Contains(low, "expired") || strings.Contains(low, "timestamp") || strings.Contains(low, "validity"):
		reason = ReasonExpired
	}
	if len(all) > 300 {
		all = all[:300] + "..."
	}
	return fmt.Errorf("%s: %s", reason, all)
}

// readManifest reads an OCI image manifest of repo (signatures are image
// manifests).
func (v *Verifier) readManifest(ctx context.Context, repo string, d digest.Digest) (*v1.Manifest, error) {
	m, err := v.src.Manifest(ctx, repo, d)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", ReasonMalformed, err)
	}
	var im v1.Manifest
	if err := json.Unmarshal(m.Content, &im); err != nil {
		return nil, fmt.Errorf("%s: signature manifest is not JSON: %v", ReasonMalformed, err)
	}
	return &im, nil
}
