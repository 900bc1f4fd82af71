package scan

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// Gate is the vulnerability pull gate (registry.PullGate): it refuses
// manifests whose stored scan summary breaks the project's policy.
type Gate struct{ s *Service }

// Gate returns the service's pull gate.
func (s *Service) Gate() *Gate { return &Gate{s} }

// CheckPull implements registry.PullGate: with a gating policy it reads
// the manifest's stored summary (one indexed lookup) and applies the
// thresholds, allowlists and VEX statuses in memory.
func (g *Gate) CheckPull(ctx context.Context, repo string, m *meta.Manifest) error {
	s := g.s
	p, err := s.effectivePolicy(ctx, projectOf(repo))
	if err != nil {
		return err
	}
	if !p.gating() || !scannable(m) {
		return nil
	}
	r, err := s.summary(ctx, m.Digest)
	if err != nil {
		return err
	}
	var reason string
	switch {
	case !r.found:
		if !p.BlockUnscanned {
			return nil
		}
		reason = "image has not been scanned for vulnerabilities"
	case r.status == StatusFailed:
		if !p.BlockFailed {
			return nil
		}
		reason = "the vulnerability scan of this image failed"
	default:
		reason = p.violations(r.findings, time.Now())
		if reason == "" {
			return nil
		}
	}
	if s.exempt(ctx, p, projectOf(repo)) {
		return nil
	}
	if s.opts.Deny != nil {
		s.opts.Deny(ctx, repo, m.Digest, reason)
	}
	return fmt.Errorf("%w: %s", registry.ErrDenied, reason)
}

// violations describes the findings of a summary that break the policy
// ("" : none): how many, and the worst.
func (p *Policy) violations(fs []gateFinding, now time.Time) string {
	var worst *gateFinding
	n := 0
	for i := range fs {
		f := &fs[i]
		if f.VEX != "" || allowed(p.Allowlist, append([]string{f.ID}, f.Aliases...), now) {
			continue
		}
		over := (p.PreventSeverity > SeverityUnknown && f.Severity >= p.PreventSeverity) ||
			(p.PreventCVSS > 0 && f.CVSS >= p.PreventCVSS)
		if !over {
			continue
		}
		n++
		if worst == nil || f.Severity > worst.Severity || (f.Severity == worst.Severity && f.CVSS > worst.CVSS) {
			worst = f
		}
	}
	if worst == nil {
		return ""
	}
	msg := fmt.Sprintf("%d vulnerabilit%s at or above the project's threshold; worst: %s (%s", n, plural(n, "y", "ies"), worst.ID, worst.Severity)
	if worst.CVSS > 0 {
		msg += fmt.Sprintf(", CVSS %.1f", worst.CVSS)
	}
	msg += fmt.Sprintf(") in %s %s", worst.Package, worst.Version)
	if worst.Fixed != "" {
		msg += ", fixed in " + worst.Fixed
	}
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// exempt reports whether the caller is exempt from the gate: a named
// robot account or a holder of an exempt role (never by User-Agent).
func (s *Service) exempt(ctx context.Context, p *Policy, project string) bool {
	if s.opts.Caller == nil {
		return false
	}
	c, ok := s.opts.Caller(ctx)
	if !ok {
		return false
	}
	if c.Robot && slices.Contains(p.ExemptRobots, c.Name) {
		return true
	}
	if c.Admin && slices.Contains(p.ExemptRoles, RoleSystemAdmin) {
		return true
	}
	if len(p.ExemptRoles) == 0 || s.opts.RoleOf == nil {
		return false
	}
	role, err := s.opts.RoleOf(ctx, project)
	return err == nil && role != "" && slices.Contains(p.ExemptRoles, role)
}
