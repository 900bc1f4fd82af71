// Package trust verifies cosign and notation signatures against what a
// project trusts, and refuses pulls that its signature policy does not
// allow (docs/signing.md).
//
// A project's signature policy is a list of rules (meta.SigningRule), each
// scoped by a repository pattern of internal/policy, in mode "enforce"
// (refuse pulls) or "audit" (record only), with trust requirements: cosign
// public keys, keyless identities checked against an uploaded Sigstore
// trusted root, a notation trust policy over uploaded certificates; and a
// minimum number of valid signatures by distinct signers. Keys,
// certificates and trusted roots are trust material (meta.TrustMaterial).
//
// Verification runs when a signature arrives (OnPush enqueues it) and
// otherwise at most once per manifest and policy version: every change of
// a project's rules or material increments its version, and results are
// stored per (repository, digest) with the version they were computed at.
// The pull gate (Gate.CheckPull) is one indexed query when a result is
// current.
//
// Signatures are found in Berth's own store: cosign's tag scheme
// (sha256-<hex>.sig), Sigstore bundles attached as OCI 1.1 referrers
// (cosign --new-bundle-format, cosign v3) and notation signatures
// (referrers of type application/vnd.cncf.notary.signature, JWS or COSE).
// The cryptography is sigstore-go's and notation-go's.
package trust

import (
	"errors"
	"regexp"
	"strings"
)

// Sentinel errors: ErrInvalid is a bad request, ErrNotFound a 404 in the
// management API.
var (
	ErrInvalid  = errors.New("invalid signature policy")
	ErrNotFound = errors.New("not found")
)

// Rule modes.
const (
	ModeEnforce = "enforce"
	ModeAudit   = "audit"
)

// Kinds of trust material.
const (
	KindCosignKey   = "cosign-key"   // PEM public key (ECDSA, Ed25519, RSA)
	KindTrustedRoot = "trusted-root" // Sigstore trusted_root.json
	// Notation trust store certificates (PEM, one or more); the
	// material's name is the trust store's name, so a trust policy's
	// "ca:acme" reads the notation-ca material named acme.
	KindNotationCA  = "notation-ca"
	KindNotationSA  = "notation-signingAuthority"
	KindNotationTSA = "notation-tsa"
)

// Media and artifact types of signatures.
const (
	mediaSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	mediaBundle        = "application/vnd.dev.sigstore.bundle.v0.3+json"
	mediaCosignSig     = "application/vnd.dev.cosign.artifact.sig.v1+json"
	mediaNotation      = "application/vnd.cncf.notary.signature"
	mediaJWS           = "application/jose+json"
	mediaCOSE          = "application/cose"
	annotationCosign   = "dev.cosignproject.cosign/signature"
	annotationCert     = "dev.sigstore.cosign/certificate"
)

// Formats of signatures in a Status.
const (
	FormatCosignTag = "cosign-tag"
	FormatBundle    = "sigstore-bundle"
	FormatNotation  = "notation"
)

// Reasons a signature or a rule fails, the start of Reason texts.
const (
	ReasonNoSignature     = "no signature"
	ReasonUntrusted       = "signature by an untrusted key"
	ReasonDigestMismatch  = "digest mismatch"
	ReasonIdentity        = "certificate identity mismatch"
	ReasonExpired         = "expired certificate without timestamp"
	ReasonMalformed       = "malformed signature"
	ReasonTooFewSigners   = "too few valid signatures"
	ReasonUnsupported     = "unsupported signature"
	ReasonNotationFailure = "notation verification failed"
)

// sigTag matches cosign's signature tags.
var sigTag = regexp.MustCompile(`^sha256-[a-f0-9]{64}\.sig$`)

// signatureTag is the cosign signature tag of a sha256 digest.
func signatureTag(dgst string) (string, bool) {
	hex, ok := strings.CutPrefix(dgst, "sha256:")
	return "sha256-" + hex + ".sig", ok
}
