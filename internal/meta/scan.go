package meta

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// ScanPackages is the package list extracted from an image manifest
// (internal/scan), kept so that a rescan after a vulnerability database
// update costs a query, not a read of the image's layers.
type ScanPackages struct {
	Digest      digest.Digest
	Extractor   string // what extracted it, with its version
	ExtractedAt time.Time
	Data        []byte // encoded by internal/scan
}

// ScanResult is the newest scan of a manifest. The summary columns
// (Status to Summary) are what the pull gate reads; Report is the whole
// report, read only by the API.
type ScanResult struct {
	Digest    digest.Digest
	Scanner   string // "builtin" or an external scanner's name
	DBVersion string // the vulnerability database version matched against
	Status    string // "success" or "failed"
	Severity  int    // rank of the worst finding (internal/scan.Severity)
	MaxCVSS   float64
	Worst     string // id of the worst finding
	Findings  int    // number of findings
	ScannedAt time.Time
	Error     string // why a failed scan failed
	Summary   []byte // compact findings the gate evaluates, encoded by internal/scan
	Report    []byte // the full report, encoded by internal/scan
}

// ScanStore keeps extracted package lists, scan results and scanning
// policies.
type ScanStore interface {
	// PutScanPackages stores (or replaces) a manifest's package list.
	PutScanPackages(ctx context.Context, p ScanPackages) error
	// GetScanPackages returns a manifest's package list, or ErrNotFound.
	GetScanPackages(ctx context.Context, dgst digest.Digest) (ScanPackages, error)
	// ScanPackageDigests lists the manifests with a stored package list,
	// in digest order after after, at most limit.
	ScanPackageDigests(ctx context.Context, after digest.Digest, limit int) ([]digest.Digest, error)
	// PutScanResult stores (or replaces) a manifest's scan result.
	PutScanResult(ctx context.Context, r ScanResult) error
	// GetScanResult returns a manifest's scan result; with report false
	// the Report is left out (the gate's one indexed lookup). ErrNotFound
	// when the manifest was never scanned.
	GetScanResult(ctx context.Context, dgst digest.Digest, report bool) (ScanResult, error)
	// ScanPolicy returns a project's scanning policy ("" is the
	// system-wide one), or ErrNotFound.
	ScanPolicy(ctx context.Context, project string) ([]byte, error)
	// PutScanPolicy stores (or replaces) a project's scanning policy.
	PutScanPolicy(ctx context.Context, project string, data []byte) error
}
