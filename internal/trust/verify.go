package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// Source is what verification reads of Berth's store (meta.Store has it).
type Source interface {
	Manifest(ctx context.Context, repo string, dgst digest.Digest) (*meta.Manifest, error)
	ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error)
	Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]meta.Descriptor, error)
	Blob(ctx context.Context, repo string, dgst digest.Digest) (meta.Blob, error)
	IndexesListing(ctx context.Context, repo string, child digest.Digest) ([]digest.Digest, error)
	SigningRules(ctx context.Context, project string) ([]meta.SigningRule, error)
	TrustMaterials(ctx context.Context, project string) ([]meta.TrustMaterial, error)
	SigningVersion(ctx context.Context, project string) (int64, error)
}

// BlobOpener reads a stored blob's bytes (storage.Blobs has it).
type BlobOpener interface {
	Open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error)
}

// Status is the verification result of a manifest, as stored and as the
// API returns it.
type Status struct {
	Digest        digest.Digest `json:"digest"`
	PolicyVersion int64         `json:"policy_version"`
	VerifiedAt    time.Time     `json:"verified_at"`
	Rules         []RuleStatus  `json:"rules"`
}

// RuleStatus is how a manifest fares under one rule.
type RuleStatus struct {
	Rule         int64             `json:"rule"`
	Repositories string            `json:"repositories"`
	Mode         string            `json:"mode"`
	Met          bool              `json:"met"`
	Valid        int               `json:"valid_signers"`
	Required     int               `json:"required_signers"`
	Reason       string            `json:"reason,omitempty"`
	CoveredBy    digest.Digest     `json:"covered_by,omitempty"` // the signed index that covers a child
	Signatures   []SignatureStatus `json:"signatures"`
	ExemptRoles  []string          `json:"exempt_roles,omitempty"`
	ExemptRobots []string          `json:"exempt_robots,omitempty"`
}

// SignatureStatus is one signature found for the manifest.
type SignatureStatus struct {
	Format   string        `json:"format"`
	Artifact digest.Digest `json:"artifact"` // the signature's manifest
	Valid    bool          `json:"valid"`
	Signer   string        `json:"signer,omitempty"`
	Reason   string        `json:"reason,omitempty"`
}

// Verifier finds and verifies the signatures of manifests.
type Verifier struct {
	src   Source
	blobs BlobOpener
	log   *slog.Logger
	now   func() time.Time
}

// NewVerifier returns a verifier over Berth's store.
func NewVerifier(src Source, blobs BlobOpener, log *slog.Logger) *Verifier {
	return &Verifier{src: src, blobs: blobs, log: log, now: time.Now}
}

// readBlob reads at most limit bytes of a blob repo may read.
func (v *Verifier) readBlob(ctx context.Context, repo string, d digest.Digest, limit int64) ([]byte, error) {
	b, err := v.src.Blob(ctx, repo, d)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %v", ReasonMalformed, d, err)
	}
	if b.Size > limit {
		return nil, fmt.Errorf("%s: blob %s is %d bytes, more than %d", ReasonMalformed, d, b.Size, limit)
	}
	rc, err := v.blobs.Open(ctx, d, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %v", ReasonMalformed, d, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit || digest.SHA256.FromBytes(body) != d && d.Algorithm() == digest.SHA256 {
		return nil, fmt.Errorf("%s: blob %s does not match its digest", ReasonMalformed, d)
	}
	return body, nil
}

// Evaluate verifies the manifest dgst of repo against its project's rules
// as they are now. The returned version is the policy version read before
// the rules, so a result stored with it is recognisably stale if they
// change meanwhile.
func (v *Verifier) Evaluate(ctx context.Context, repo string, dgst digest.Digest) (*Status, error) {
	project := policy.ProjectOf(repo)
	version, err := v.src.SigningVersion(ctx, project)
	if err != nil {
		return nil, err
	}
	st := &Status{Digest: dgst, PolicyVersion: version, VerifiedAt: v.now().UTC(), Rules: []RuleStatus{}}
	if version == 0 {
		return st, nil
	}
	stored, err := v.src.SigningRules(ctx, project)
	if err != nil {
		return nil, err
	}
	var rules []Rule
	rel := relative(repo)
	for _, sr := range stored {
		r, err := ruleFrom(sr)
		if err != nil {
			v.log.Warn("signing rule unreadable", "project", project, "rule", sr.ID, "error", err)
			continue
		}
		if r.pattern.Match(rel) {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return st, nil
	}
	ms, err := v.src.TrustMaterials(ctx, project)
	if err != nil {
		return nil, err
	}
	mat := loadMaterials(ms)
	m, err := v.src.Manifest(ctx, repo, dgst)
	if err != nil {
		return nil, err
	}
	found := v.candidates(ctx, repo, dgst)
	for i := range rules {
		r := &rules[i]
		rs := v.evaluateRule(ctx, r, repo, m, found, mat)
		if !rs.Met && r.indexCovers() && len(m.Children) == 0 {
			v.coverByIndex(ctx, r, repo, dgst, mat, &rs)
		}
		st.Rules = append(st.Rules, rs)
	}
	return st, nil
}

// coverByIndex meets rule r for a child when an index of the repository
// listing it meets r.
func (v *Verifier) coverByIndex(ctx context.Context, r *Rule, repo string, child digest.Digest, mat *materials, rs *RuleStatus) {
	idxs, err := v.src.IndexesListing(ctx, repo, child)
	if err != nil {
		return
	}
	for i, d := range idxs {
		if i == maxSignatures {
			return
		}
		im, err := v.src.Manifest(ctx, repo, d)
		if err != nil {
			continue
		}
		is := v.evaluateRule(ctx, r, repo, im, v.candidates(ctx, repo, d), mat)
		if is.Met {
			rs.Met, rs.Reason, rs.CoveredBy, rs.Valid = true, "", d, is.Valid
			rs.Signatures = append(rs.Signatures, is.Signatures...)
			return
		}
	}
}

// candidates finds every signature of a manifest.
func (v *Verifier) candidates(ctx context.Context, repo string, dgst digest.Digest) []candidate {
	out := v.tagCandidates(ctx, repo, dgst)
	out = append(out, v.cosignReferrerCandidates(ctx, repo, dgst)...)
	out = append(out, v.referrerCandidates(ctx, repo, dgst, mediaBundle, FormatBundle)...)
	return append(out, v.referrerCandidates(ctx, repo, dgst, mediaNotation, FormatNotation)...)
}

// evaluateRule verifies each candidate under the rule and counts the
// distinct valid signers.
func (v *Verifier) evaluateRule(ctx context.Context, r *Rule, repo string, m *meta.Manifest, found []candidate, mat *materials) RuleStatus {
	rs := RuleStatus{Rule: r.ID, Repositories: r.Repositories, Mode: r.Mode, Required: r.minSignatures(),
		ExemptRoles: r.ExemptRoles, ExemptRobots: r.ExemptRobots, Signatures: []SignatureStatus{}}
	signers := map[string]bool{}
	var firstErr string
	for i := range found {
		c := &found[i]
		ss := SignatureStatus{Format: c.format, Artifact: c.artifact}
		signer, err := v.verifyOne(ctx, c, repo, m, r, mat)
		if err != nil {
			ss.Reason = err.Error()
			if firstErr == "" {
				firstErr = ss.Reason
			}
		} else {
			ss.Valid, ss.Signer = true, signer
			signers[signer] = true
		}
		rs.Signatures = append(rs.Signatures, ss)
	}
	rs.Valid = len(signers)
	rs.Met = rs.Valid >= rs.Required
	switch {
	case rs.Met:
	case len(found) == 0:
		rs.Reason = ReasonNoSignature
	case rs.Valid == 0:
		rs.Reason = firstErr
	default:
		rs.Reason = fmt.Sprintf("%s: %d of %d distinct signers", ReasonTooFewSigners, rs.Valid, rs.Required)
	}
	return rs
}

// verifyOne verifies one signature; never panics on bad input.
func (v *Verifier) verifyOne(ctx context.Context, c *candidate, repo string, m *meta.Manifest, r *Rule, mat *materials) (signer string, err error) {
	defer func() {
		if p := recover(); p != nil {
			signer, err = "", fmt.Errorf("%s: verification failed: %v", ReasonMalformed, p)
		}
	}()
	if c.err != nil {
		return "", c.err
	}
	switch c.format {
	case FormatCosignTag:
		return verifyTag(c, m.Digest, r, mat)
	case FormatBundle:
		return verifyBundle(c, m.Digest, r, mat)
	case FormatNotation:
		return verifyNotation(ctx, c, m, repo, r, mat)
	}
	return "", errors.New(ReasonUnsupported)
}

// marshal encodes a status for the store.
func (s *Status) marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// relative is a repository's name within its project, what rule patterns
// match ("" for the repository named like the project).
func relative(repo string) string {
	_, rest, _ := strings.Cut(repo, "/")
	return rest
}
