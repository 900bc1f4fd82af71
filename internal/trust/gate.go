package trust

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/registry"
)

// CheckPull implements registry.PullGate. Signature artifacts are always
// served; otherwise the stored result, when current, decides (one indexed
// query); without one the manifest is verified once and the result stored.
func (s *Service) CheckPull(ctx context.Context, repo string, m *meta.Manifest) error {
	project := policy.ProjectOf(repo)
	if until, ok := s.unpoliced.Load(project); ok && time.Now().Before(until.(time.Time)) {
		return nil
	}
	changes := s.changes.Load()
	version, res, found, err := s.store.SignatureCheck(ctx, project, repo, m.Digest)
	if err != nil {
		return err
	}
	if version == 0 { // the project never had a signature policy
		if s.changes.Load() == changes {
			s.unpoliced.Store(project, time.Now().Add(s.opts.PolicyTTL))
		}
		return nil
	}
	if isSignatureArtifact(m) {
		return nil
	}
	var st *Status
	if found && res.Version == version {
		st, err = s.decoded(res)
		if age := time.Since(res.VerifiedAt); err == nil && (age > resultTTL || !st.met() && age > unmetTTL) {
			st = nil // verify again (see unmetTTL, resultTTL)
		}
	}
	if st == nil || err != nil {
		if st, err = s.Reverify(ctx, repo, m.Digest); err != nil {
			return err
		}
	}
	return s.decide(ctx, repo, m.Digest, st)
}

// unmetTTL is how long a result that refuses (or audits) a pull is
// trusted. OnPush is not durable: an instance that stops between a
// signature's push and its verification leaves a stale refusal, which
// the next pull after unmetTTL verifies again. A policy or key change
// revokes a met result at once (the version changes); a deleted signature
// only after resultTTL, when any result is verified again.
const (
	unmetTTL  = time.Minute
	resultTTL = time.Hour
)

// met reports whether every rule is met.
func (st *Status) met() bool {
	for _, rs := range st.Rules {
		if !rs.Met {
			return false
		}
	}
	return true
}

// decide applies a status: an unmet enforce rule refuses the pull unless
// the caller is exempt; an unmet audit rule is logged and recorded.
func (s *Service) decide(ctx context.Context, repo string, dgst digest.Digest, st *Status) error {
	for _, rs := range st.Rules {
		if rs.Met {
			continue
		}
		msg := fmt.Sprintf("signature policy rule %d (repositories %q): %s", rs.Rule, rs.Repositories, rs.Reason)
		if rs.Mode == ModeAudit {
			s.metrics.decision("audited")
			s.log.Info("signature policy not met (audit)", "repo", repo, "digest", dgst, "rule", rs.Rule, "reason", rs.Reason)
			s.record(ctx, "signature.audit", repo, dgst)
			continue
		}
		if s.exempt(ctx, repo, &rs) {
			s.metrics.decision("exempt")
			s.log.Info("signature policy not met, caller exempt", "repo", repo, "digest", dgst, "rule", rs.Rule)
			continue
		}
		s.metrics.decision("denied")
		s.record(ctx, "signature.deny", repo, dgst)
		return fmt.Errorf("%w: %s", registry.ErrDenied, msg)
	}
	s.metrics.decision("allowed")
	return nil
}

// exempt reports whether the caller is exempt from a rule: a robot named
// in it, or a member of the project in one of its roles (system
// administrators count as admin). Never by User-Agent.
func (s *Service) exempt(ctx context.Context, repo string, rs *RuleStatus) bool {
	if s.opts.Caller == nil || len(rs.ExemptRoles) == 0 && len(rs.ExemptRobots) == 0 {
		return false
	}
	kind, name, admin := s.opts.Caller(ctx)
	if kind == "" {
		return false
	}
	if kind == "robot" {
		return slices.Contains(rs.ExemptRobots, name)
	}
	if admin && slices.Contains(rs.ExemptRoles, "admin") {
		return true
	}
	if s.opts.RoleOf == nil || len(rs.ExemptRoles) == 0 {
		return false
	}
	role := s.opts.RoleOf(ctx, policy.ProjectOf(repo))
	return role != "" && slices.Contains(rs.ExemptRoles, role)
}

func (s *Service) record(ctx context.Context, action, repo string, dgst digest.Digest) {
	if s.opts.Record == nil {
		return
	}
	user := ""
	if s.opts.Caller != nil {
		_, user, _ = s.opts.Caller(ctx)
	}
	s.opts.Record(meta.AuditEvent{Time: time.Now(), Action: action, User: user, Repository: repo,
		Reference: dgst.String(), Digest: dgst.String(), Status: "failure"})
}

// signatureLayers are the media types of signature and attestation
// payloads: a manifest whose layers are all of these holds no runnable
// content, so serving it unverified gives nothing away.
var signatureLayers = []string{mediaSimpleSigning, mediaBundle, mediaJWS, mediaCOSE,
	"application/vnd.dsse.envelope.v1+json", "application/vnd.in-toto+json"}

// isSignatureArtifact reports whether m is a signature (or attestation)
// that must stay pullable: an image manifest with at least one layer, all
// of signature payload types. The artifact type alone proves nothing (any
// image may claim one), so the layers decide.
func isSignatureArtifact(m *meta.Manifest) bool {
	if len(m.Children) > 0 || !bytes.Contains(m.Content, []byte("application/")) {
		return false
	}
	quick := false
	for _, t := range signatureLayers {
		if bytes.Contains(m.Content, []byte(t)) {
			quick = true
			break
		}
	}
	if !quick {
		return false
	}
	var im v1.Manifest
	if json.Unmarshal(m.Content, &im) != nil || len(im.Layers) == 0 {
		return false
	}
	for _, l := range im.Layers {
		if !slices.Contains(signatureLayers, l.MediaType) {
			return false
		}
	}
	return true
}

// decodedEntry is a stored result decoded once.
type decodedEntry struct {
	version  int64
	verified time.Time
	st       *Status
}

// maxDecoded bounds the decoded results kept; past it the map restarts.
const maxDecoded = 10000

// decoded returns a stored result decoded, from memory when this result
// (same version, same verification time) was decoded before: a pull of a
// verified manifest is one query and a map lookup.
func (s *Service) decoded(res meta.SignatureResult) (*Status, error) {
	key := res.Repository + "@" + res.Digest.String()
	s.mu.Lock()
	e, ok := s.cache[key]
	s.mu.Unlock()
	if ok && e.version == res.Version && e.verified.Equal(res.VerifiedAt) {
		return e.st, nil
	}
	st, err := decodeStatus(res.Result)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.cache) >= maxDecoded {
		s.cache = map[string]decodedEntry{}
	}
	s.cache[key] = decodedEntry{version: res.Version, verified: res.VerifiedAt, st: st}
	s.mu.Unlock()
	return st, nil
}

func decodeStatus(s string) (*Status, error) {
	var st Status
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// job is a verification to run after a signature arrived (repo,
// subject), or the re-verification of a project's stored results after
// its policy changed (project).
type job struct {
	repo    string
	subject digest.Digest
	project string
}

// maxReverify bounds the results verified again after a policy change;
// the others are verified at their next pull.
const maxReverify = 10000

// policyChanged enqueues the re-verification of the project's stored
// results (they are stale from now on: the version changed).
func (s *Service) policyChanged(project string) {
	s.busy.Add(1)
	select {
	case s.queue <- job{project: project}:
	default:
		s.busy.Add(-1)
		s.log.Warn("signature verification queue full; results of the project are verified at their next pull", "project", project)
	}
}

// reverifyProject verifies again the manifests of a project that have a
// stored result.
func (s *Service) reverifyProject(ctx context.Context, project string) {
	results, err := s.store.SignatureResultsOf(ctx, project, maxReverify)
	if err != nil {
		s.log.Warn("listing signature results", "project", project, "error", err)
		return
	}
	for _, r := range results {
		if ctx.Err() != nil {
			return
		}
		if _, err := s.Reverify(ctx, r.Repository, r.Digest); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("verifying signatures", "repo", r.Repository, "digest", r.Digest, "error", err)
		}
	}
}

// OnPush is the registry's OnPush hook: a pushed signature (cosign tag, or
// a referrer) enqueues the verification of what it signs. It only
// enqueues; Run verifies.
func (s *Service) OnPush(_ context.Context, m *meta.Manifest, tags []string) {
	var subject digest.Digest
	switch {
	case m.Subject != "":
		subject = m.Subject
	default:
		for _, t := range tags {
			if sigTag.MatchString(t) {
				subject = digest.Digest("sha256:" + strings.TrimSuffix(strings.TrimPrefix(t, "sha256-"), ".sig"))
			}
		}
	}
	if subject == "" {
		return
	}
	s.busy.Add(1)
	select {
	case s.queue <- job{repo: m.Repository, subject: subject}:
	default:
		s.busy.Add(-1)
		s.log.Warn("signature verification queue full; verifying at the next pull", "repo", m.Repository, "digest", subject)
		s.forget(m.Repository)
	}
}

// forget drops a repository's stored results.
func (s *Service) forget(repo string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.store.DeleteSignatureResults(ctx, repo); err != nil {
		s.log.Warn("forgetting signature results", "repo", repo, "error", err)
	}
}

// Run verifies what OnPush enqueued until ctx ends. A new signature may
// change the status of the manifest it signs and of an index's children,
// so the repository's stored results are dropped first.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.queue:
			s.runJob(ctx, j)
			s.busy.Add(-1)
		}
	}
}

// runJob runs one queued verification.
func (s *Service) runJob(ctx context.Context, j job) {
	if j.project != "" {
		s.reverifyProject(ctx, j.project)
		return
	}
	s.forget(j.repo)
	if version, _, _, err := s.store.SignatureCheck(ctx, policy.ProjectOf(j.repo), j.repo, j.subject); err != nil || version == 0 {
		return
	}
	if _, err := s.store.Manifest(ctx, j.repo, j.subject); err != nil {
		return // a signature of something not (yet) pushed
	}
	if _, err := s.Reverify(ctx, j.repo, j.subject); err != nil {
		s.log.Warn("verifying signatures", "repo", j.repo, "digest", j.subject, "error", err)
	}
}

// Idle reports whether no verification is waiting or running (tests).
func (s *Service) Idle() bool { return s.busy.Load() == 0 }
