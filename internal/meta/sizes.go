package meta

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// ErrSizeMismatch: a manifest's descriptor gives a referenced blob or
// child manifest a size other than the stored one. Returned wrapped in
// *SizeError.
var ErrSizeMismatch = errors.New("meta: descriptor size differs from the stored content's")

// SizeError names the first reference of a manifest push whose declared
// size (Manifest.Sizes) is not the stored content's.
type SizeError struct {
	Digest   digest.Digest
	Kind     string // "blob" or "manifest"
	Declared int64
	Actual   int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("the descriptor of %s %s gives size %d; it has %d bytes", e.Kind, e.Digest, e.Declared, e.Actual)
}

// Unwrap makes errors.Is(err, ErrSizeMismatch) true.
func (e *SizeError) Unwrap() error { return ErrSizeMismatch }

// CheckSize returns a *SizeError when m declares a size for d other than
// actual; digests m declares nothing for pass.
func (m *Manifest) CheckSize(d digest.Digest, kind string, actual int64) error {
	if want, ok := m.Sizes[d]; ok && want != actual {
		return &SizeError{Digest: d, Kind: kind, Declared: want, Actual: actual}
	}
	return nil
}
