package meta

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// SigningRule is one signature policy rule of a project (internal/trust):
// the repositories it covers (a pattern of internal/policy, relative to the
// project), its mode ("enforce" or "audit") and its trust requirements as
// the JSON document internal/trust defines.
type SigningRule struct {
	ID           int64
	Project      string
	Repositories string
	Mode         string
	Spec         string // JSON
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TrustMaterial is a key, certificate or trusted root a project trusts:
// a cosign public key, a Sigstore trusted_root.json, or notation trust
// store certificates. Kind is internal/trust's vocabulary; Data the PEM or
// JSON text.
type TrustMaterial struct {
	ID        int64
	Project   string
	Name      string
	Kind      string
	Data      string
	CreatedAt time.Time
}

// SignatureResult is the stored outcome of verifying a manifest of a
// repository against its project's signature policy at Version (the
// project's policy version when it was computed). Result is the JSON
// document internal/trust defines.
type SignatureResult struct {
	Repository string
	Digest     digest.Digest
	Version    int64
	Result     string
	VerifiedAt time.Time
}

// SigningStore holds signature policies, trust material and verification
// results. Every change of a project's rules or trust material increments
// the project's policy version in the same transaction, so results
// computed under an older version are recognisably stale.
type SigningStore interface {
	// SigningRules lists a project's rules by id.
	SigningRules(ctx context.Context, project string) ([]SigningRule, error)
	// AddSigningRule stores a rule and returns it with its id.
	AddSigningRule(ctx context.Context, r SigningRule) (SigningRule, error)
	// UpdateSigningRule replaces a rule's fields; ErrNotFound when the
	// project has no rule r.ID.
	UpdateSigningRule(ctx context.Context, r SigningRule) error
	// DeleteSigningRule removes a rule; ErrNotFound when there is none.
	DeleteSigningRule(ctx context.Context, project string, id int64) error

	// TrustMaterials lists a project's trust material by id.
	TrustMaterials(ctx context.Context, project string) ([]TrustMaterial, error)
	// AddTrustMaterial stores trust material and returns it with its id;
	// ErrConflict when the project has material of that name.
	AddTrustMaterial(ctx context.Context, m TrustMaterial) (TrustMaterial, error)
	// DeleteTrustMaterial removes trust material; ErrNotFound when there is none.
	DeleteTrustMaterial(ctx context.Context, project string, id int64) error

	// SigningVersion is the project's policy version: 0 when it never had
	// a rule or trust material.
	SigningVersion(ctx context.Context, project string) (int64, error)
	// SignatureCheck answers the pull gate in one indexed query: the
	// project's policy version and the stored result of (repo, dgst), if
	// any (found false when none is stored).
	SignatureCheck(ctx context.Context, project, repo string, dgst digest.Digest) (version int64, r SignatureResult, found bool, err error)
	// PutSignatureResult stores (replaces) the result of (r.Repository, r.Digest).
	PutSignatureResult(ctx context.Context, r SignatureResult) error
	// DeleteSignatureResults forgets every stored result of a repository
	// (a signature arrived: any of its manifests, or an index's children,
	// may now verify differently).
	DeleteSignatureResults(ctx context.Context, repo string) error
	// SignatureResultsOf lists the (repository, digest) of the stored
	// results of a project's repositories, at most n, by repository and
	// digest (what to verify again after a policy change).
	SignatureResultsOf(ctx context.Context, project string, n int) ([]SignatureResult, error)
	// IndexesListing lists the digests of repo's indexes that list child.
	IndexesListing(ctx context.Context, repo string, child digest.Digest) ([]digest.Digest, error)
}
