package oci

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/opencontainers/go-digest"
)

// Supported digest algorithms. The spec requires sha256 and allows sha512.
const (
	SHA256 = digest.SHA256
	SHA512 = digest.SHA512
)

// ParseDigest parses and validates a digest string (algorithm and encoded
// part), accepting only algorithms Berth can verify.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrDigestInvalid, s, err)
	}
	if !SupportedAlgorithm(d.Algorithm()) {
		return "", fmt.Errorf("%w: algorithm %q is not supported", ErrDigestInvalid, d.Algorithm())
	}
	return d, nil
}

// SupportedAlgorithm reports whether Berth computes digests with a.
func SupportedAlgorithm(a digest.Algorithm) bool {
	return a == SHA256 || a == SHA512
}

// NewHash returns a new hash for a supported algorithm. The hashes of the
// standard library implement encoding.BinaryMarshaler, which lets an upload
// resume hashing where an earlier request stopped.
func NewHash(a digest.Algorithm) (hash.Hash, error) {
	switch a {
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("%w: algorithm %q is not supported", ErrDigestInvalid, a)
}

// FromBytes returns the sha256 digest of b.
func FromBytes(b []byte) digest.Digest {
	return digest.FromBytes(b)
}
