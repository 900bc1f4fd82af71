package trust

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Annotations of a keyless signature in cosign's tag scheme.
const (
	annotationChain  = "dev.sigstore.cosign/chain"
	annotationBundle = "dev.sigstore.cosign/bundle"
)

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation: the
// Rekor entry and its signed promise (SET).
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// tagBundle turns a keyless tag-scheme signature (certificate, chain and
// Rekor bundle in annotations) into the Sigstore bundle (v0.1: a promise,
// no inclusion proof) sigstore-go verifies.
func tagBundle(payload, sig []byte, cert, chain, rekor string) (*bundle.Bundle, error) {
	certs, err := parseCertificates([]byte(cert + "\n" + chain))
	if err != nil {
		return nil, fmt.Errorf("%s: certificate: %v", ReasonMalformed, err)
	}
	if rekor == "" {
		return nil, fmt.Errorf("%s: a keyless signature without a Rekor bundle has no timestamp", ReasonExpired)
	}
	var rb rekorBundle
	if err := json.Unmarshal([]byte(rekor), &rb); err != nil {
		return nil, fmt.Errorf("%s: Rekor bundle: %v", ReasonMalformed, err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: Rekor entry body: %v", ReasonMalformed, err)
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kind); err != nil {
		return nil, fmt.Errorf("%s: Rekor entry body: %v", ReasonMalformed, err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("%s: Rekor log ID: %v", ReasonMalformed, err)
	}
	chainPB := &protocommon.X509CertificateChain{}
	for _, c := range certs {
		chainPB.Certificates = append(chainPB.Certificates, &protocommon.X509Certificate{RawBytes: c.Raw})
	}
	h := sha256.Sum256(payload)
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: chainPB},
			TlogEntries: []*protorekor.TransparencyLogEntry{{
				LogIndex: rb.Payload.LogIndex, LogId: &protocommon.LogId{KeyId: logID},
				KindVersion:    &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
				IntegratedTime: rb.Payload.IntegratedTime, CanonicalizedBody: body,
				InclusionPromise: &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
			}},
		},
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: h[:]},
			Signature:     sig,
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", ReasonMalformed, err)
	}
	return b, nil
}
