package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Network rules say from which source networks pulls and pushes may come:
// system-wide (auth.network), per project and per robot account. Every
// rule that applies must allow the client's address (ClientAddr: the
// peer, or X-Forwarded-For from a trusted proxy), so a project's rule
// narrows the system's and a robot's narrows its project's; an empty list
// allows any address. Deletes count as pushes. System administrators
// pass when auth.network.admin_bypass is on.
//
// Project and robot rules are in the database; each instance holds all
// of them in memory and reads them again every netRulesTTL (at once after
// a change it made), so the check costs no database round trip.

// netRulesTTL is how long an instance keeps the rules it read; other
// instances see a change within it.
const netRulesTTL = 5 * time.Second

// ProjectNetworkScope and RobotNetworkScope name the scope of a rule.
func ProjectNetworkScope(project string) string { return "project:" + project }

// RobotNetworkScope is the scope of a robot account's rule.
func RobotNetworkScope(robot string) string { return "robot:" + robot }

type netList struct {
	nets []netip.Prefix
	raw  []string
	none bool // allows no address (a rule that cannot be read)
}

// active reports whether the list restricts anything.
func (l netList) active() bool { return l.none || len(l.nets) > 0 }

func (l netList) allows(a netip.Addr) bool {
	if l.none {
		return false
	}
	if len(l.nets) == 0 {
		return true
	}
	for _, p := range l.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type netRule struct{ pull, push netList }

type netSnapshot struct {
	loaded time.Time
	rules  map[string]netRule
}

type netRules struct {
	snap atomic.Pointer[netSnapshot] // nil: read them again
	last atomic.Pointer[netSnapshot] // the last read, kept when the database fails
	mu   sync.Mutex                  // one reload at a time
}

func (n *netRules) invalidate() { n.snap.Store(nil) }

func parseRule(r meta.NetworkRule) (netRule, error) {
	pull, err := config.ParseNetworks(r.Pull)
	if err != nil {
		return netRule{}, err
	}
	push, err := config.ParseNetworks(r.Push)
	if err != nil {
		return netRule{}, err
	}
	return netRule{netList{nets: pull, raw: r.Pull}, netList{nets: push, raw: r.Push}}, nil
}

// netRulesNow returns the rules, read again when older than netRulesTTL.
// When the database cannot be read, the last rules stay in force.
func (s *Service) netRulesNow(ctx context.Context) (map[string]netRule, error) {
	now := s.now()
	if sn := s.nets.snap.Load(); sn != nil && now.Sub(sn.loaded) < netRulesTTL {
		return sn.rules, nil
	}
	s.nets.mu.Lock()
	defer s.nets.mu.Unlock()
	if sn := s.nets.snap.Load(); sn != nil && now.Sub(sn.loaded) < netRulesTTL {
		return sn.rules, nil
	}
	rs, err := s.store.NetworkRules(ctx)
	if err != nil {
		if last := s.nets.last.Load(); last != nil {
			s.log.WarnContext(ctx, "network rules: cannot read them again; the last ones stay in force", "error", err)
			return last.rules, nil
		}
		return nil, err
	}
	m := make(map[string]netRule, len(rs))
	for _, r := range rs {
		nr, err := parseRule(r)
		if err != nil { // written by an older or newer version: refuse all
			s.log.ErrorContext(ctx, "network rule unreadable; it allows nothing", "scope", r.Scope, "error", err)
			none := netList{raw: []string{"nothing (the rule cannot be read)"}, none: true}
			nr = netRule{none, none}
		}
		m[r.Scope] = nr
	}
	sn := &netSnapshot{loaded: now, rules: m}
	s.nets.snap.Store(sn)
	s.nets.last.Store(sn)
	return m, nil
}

// checkNetwork refuses (403 DENIED, naming the rule) a pull or push from
// an address a rule does not allow.
func (s *Service) checkNetwork(r *http.Request, subj *Subject, repo, action string) error {
	if s.cfg.Network.AdminBypass && subj != nil && subj.Admin {
		return nil
	}
	which := ActionPull
	if action != ActionPull {
		which = ActionPush
	}
	pick := func(nr netRule) netList {
		if which == ActionPull {
			return nr.pull
		}
		return nr.push
	}
	ctx := r.Context()
	rules, err := s.netRulesNow(ctx)
	if err != nil {
		return err
	}
	if len(rules) == 0 && !s.sysNet.pull.active() && !s.sysNet.push.active() {
		return nil // no rule anywhere: nothing to parse
	}
	addrText := s.ClientAddr(r)
	addr, perr := netip.ParseAddr(addrText)
	addr = addr.Unmap()
	type applied struct {
		name string
		list netList
	}
	checks := []applied{{"the system network rule (auth.network." + which + ")", pick(s.sysNet)}}
	project := ProjectOf(repo)
	if nr, ok := rules[ProjectNetworkScope(project)]; ok {
		checks = append(checks, applied{"the network rule of project " + project, pick(nr)})
	}
	if subj != nil && subj.Kind == KindRobot {
		if nr, ok := rules[RobotNetworkScope(subj.Name)]; ok {
			checks = append(checks, applied{"the network rule of robot " + subj.Name, pick(nr)})
		}
	}
	for _, c := range checks {
		if !c.list.active() {
			continue
		}
		if perr != nil || !c.list.allows(addr) {
			s.log.InfoContext(ctx, "refused by a network rule", "rule", c.name, "action", which, "repo", repo, "remote", addrText)
			return oci.NewError(oci.CodeDenied, fmt.Sprintf("%s from %s is not allowed by %s (allowed: %s)",
				which, addrText, c.name, strings.Join(c.list.raw, ", ")))
		}
	}
	return nil
}

// NetworkRule is a rule as the API shows it.
type NetworkRule struct {
	Pull []string `json:"pull"`
	Push []string `json:"push"`
}

// ProjectNetworkRule is a project's rule (empty lists: none); ErrNotFound
// for an unknown project.
func (m *Manager) ProjectNetworkRule(ctx context.Context, project string) (NetworkRule, error) {
	if _, err := m.store.Project(ctx, project); err != nil {
		return NetworkRule{}, err
	}
	return m.networkRule(ctx, ProjectNetworkScope(project))
}

// SetProjectNetworkRule sets the networks project may be pulled from and
// pushed to from; both empty removes the rule.
func (m *Manager) SetProjectNetworkRule(ctx context.Context, project string, rule NetworkRule) (NetworkRule, error) {
	if _, err := m.store.Project(ctx, project); err != nil {
		return NetworkRule{}, err
	}
	return m.setNetworkRule(ctx, ProjectNetworkScope(project), rule)
}

// RobotNetworkRule is a robot's rule (project "" for system robots);
// ErrNotFound for an unknown robot.
func (m *Manager) RobotNetworkRule(ctx context.Context, project, name string) (NetworkRule, error) {
	full := RobotName(project, name)
	if _, err := m.store.Robot(ctx, full); err != nil {
		return NetworkRule{}, err
	}
	return m.networkRule(ctx, RobotNetworkScope(full))
}

// SetRobotNetworkRule sets the networks a robot may pull and push from.
func (m *Manager) SetRobotNetworkRule(ctx context.Context, project, name string, rule NetworkRule) (NetworkRule, error) {
	full := RobotName(project, name)
	if _, err := m.store.Robot(ctx, full); err != nil {
		return NetworkRule{}, err
	}
	return m.setNetworkRule(ctx, RobotNetworkScope(full), rule)
}

func (m *Manager) networkRule(ctx context.Context, scope string) (NetworkRule, error) {
	rs, err := m.store.NetworkRules(ctx)
	if err != nil {
		return NetworkRule{}, err
	}
	for _, r := range rs {
		if r.Scope == scope {
			return NetworkRule{Pull: r.Pull, Push: r.Push}, nil
		}
	}
	return NetworkRule{Pull: []string{}, Push: []string{}}, nil
}

// setNetworkRule stores a rule, its entries as the prefixes they parse to.
func (m *Manager) setNetworkRule(ctx context.Context, scope string, rule NetworkRule) (NetworkRule, error) {
	norm := func(field string, list []string) ([]string, error) {
		ps, err := config.ParseNetworks(list)
		if err != nil {
			return nil, invalid(field, "%v", err)
		}
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.String()
		}
		return out, nil
	}
	var out NetworkRule
	var err error
	if out.Pull, err = norm("pull", rule.Pull); err != nil {
		return out, err
	}
	if out.Push, err = norm("push", rule.Push); err != nil {
		return out, err
	}
	if len(out.Pull) == 0 && len(out.Push) == 0 {
		err = m.store.DeleteNetworkRule(ctx, scope)
	} else {
		err = m.store.PutNetworkRule(ctx, meta.NetworkRule{Scope: scope, Pull: out.Pull, Push: out.Push, UpdatedAt: m.now()})
	}
	if err != nil {
		return out, err
	}
	m.onChange()
	return out, nil
}

func robotScopes(rs []meta.Robot) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = RobotNetworkScope(r.Name)
	}
	return out
}
