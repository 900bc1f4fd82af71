package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Policy is a project's scanning policy; the system-wide one (project
// "") contributes its allowlist and exemptions to every project.
type Policy struct {
	// ScanOnPush queues a scan of every image pushed to the project.
	ScanOnPush bool `json:"scan_on_push"`
	// PreventSeverity refuses pulls of images with a finding at or above
	// this severity ("" : no severity threshold).
	PreventSeverity Severity `json:"prevent_severity"`
	// PreventCVSS refuses pulls of images with a finding whose CVSS score
	// is at or above this (0: no score threshold).
	PreventCVSS float64 `json:"prevent_cvss,omitempty"`
	// BlockUnscanned refuses pulls of images never scanned.
	BlockUnscanned bool `json:"block_unscanned"`
	// BlockFailed refuses pulls of images whose last scan failed.
	BlockFailed bool `json:"block_failed"`
	// Allowlist names vulnerabilities (ids or aliases) the gate ignores.
	Allowlist []AllowEntry `json:"allowlist"`
	// ExemptRobots and ExemptRoles name robot accounts and project roles
	// ("admin", "maintainer", ...; "system-admin" for administrators)
	// whose pulls the gate lets through.
	ExemptRobots []string `json:"exempt_robots"`
	ExemptRoles  []string `json:"exempt_roles"`
	// Scanner names the external scanner (scan.scanners) that scans the
	// project's images ("" : the built-in scanner).
	Scanner string `json:"scanner,omitempty"`
}

// AllowEntry is an allowlisted vulnerability, until Expires if set.
type AllowEntry struct {
	ID      string     `json:"id"`
	Expires *time.Time `json:"expires,omitempty"`
	Comment string     `json:"comment,omitempty"`
}

// RoleSystemAdmin exempts system administrators.
const RoleSystemAdmin = "system-admin"

// Caller is who asks for a manifest, as the gate sees it (from the
// authenticated request, never from headers such as User-Agent).
type Caller struct {
	Name  string
	Robot bool // a robot account
	Admin bool // a system administrator
}

// CallerFunc returns the request's authenticated caller (false: anonymous).
type CallerFunc func(ctx context.Context) (Caller, bool)

// RoleFunc returns the caller's role in a project ("" : none).
type RoleFunc func(ctx context.Context, project string) (string, error)

// projectRoles are the roles a project grants (internal/auth).
var projectRoles = []string{"guest", "developer", "maintainer", "admin"}

// gating reports whether the policy refuses any pull.
func (p *Policy) gating() bool {
	return p.PreventSeverity > SeverityUnknown || p.PreventCVSS > 0 || p.BlockUnscanned || p.BlockFailed
}

// Validate checks a policy.
func (p *Policy) Validate() error {
	if p.PreventCVSS < 0 || p.PreventCVSS > 10 {
		return fmt.Errorf("%w: prevent_cvss must be between 0 and 10", ErrInvalid)
	}
	for _, e := range p.Allowlist {
		if strings.TrimSpace(e.ID) == "" {
			return fmt.Errorf("%w: an allowlist entry has no id", ErrInvalid)
		}
	}
	for _, r := range p.ExemptRoles {
		if r != RoleSystemAdmin && !slices.Contains(projectRoles, r) {
			return fmt.Errorf("%w: unknown role %q", ErrInvalid, r)
		}
	}
	return nil
}

// allowed reports whether any of names is allowlisted at now.
func allowed(list []AllowEntry, names []string, now time.Time) bool {
	for _, e := range list {
		if e.Expires != nil && !now.Before(*e.Expires) {
			continue
		}
		if slices.Contains(names, e.ID) {
			return true
		}
	}
	return false
}

// GetPolicy returns a project's stored policy ("" : the system-wide
// one); a project without one has the zero policy.
func (s *Service) GetPolicy(ctx context.Context, project string) (*Policy, error) {
	data, err := s.store.ScanPolicy(ctx, project)
	if errors.Is(err, meta.ErrNotFound) {
		return &Policy{Allowlist: []AllowEntry{}, ExemptRobots: []string{}, ExemptRoles: []string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var p Policy
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("stored scan policy of %q: %w", project, err)
	}
	return &p, nil
}

// SetPolicy validates and stores a project's policy.
func (s *Service) SetPolicy(ctx context.Context, project string, p *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if _, ok := s.opts.Scanners[p.Scanner]; p.Scanner != "" && p.Scanner != ScannerBuiltin && !ok {
		return fmt.Errorf("%w: no scanner %q is configured", ErrInvalid, p.Scanner)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := s.store.PutScanPolicy(ctx, project, data); err != nil {
		return err
	}
	if project == "" { // merged into every project's
		s.policies.Clear()
	} else {
		s.policies.Delete(project)
	}
	return nil
}

type cachedPolicy struct {
	p       *Policy
	expires time.Time
}

// effectivePolicy is a project's policy with the system-wide allowlist
// and exemptions added, cached for PolicyTTL (a change made on another
// instance shows within that time).
func (s *Service) effectivePolicy(ctx context.Context, project string) (*Policy, error) {
	now := time.Now()
	if c, ok := s.policies.Load(project); ok && now.Before(c.(cachedPolicy).expires) {
		return c.(cachedPolicy).p, nil
	}
	p, err := s.GetPolicy(ctx, project)
	if err != nil {
		return nil, err
	}
	if project != "" {
		sys, err := s.effectivePolicy(ctx, "")
		if err != nil {
			return nil, err
		}
		merged := *p
		merged.Allowlist = append(slices.Clip(p.Allowlist), sys.Allowlist...)
		merged.ExemptRobots = append(slices.Clip(p.ExemptRobots), sys.ExemptRobots...)
		merged.ExemptRoles = append(slices.Clip(p.ExemptRoles), sys.ExemptRoles...)
		p = &merged
	}
	s.policies.Store(project, cachedPolicy{p, now.Add(s.opts.PolicyTTL)})
	return p, nil
}

// projectOf is the project of a repository: its first path component.
func projectOf(repo string) string {
	project, _, _ := strings.Cut(repo, "/")
	return project
}
