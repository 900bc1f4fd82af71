package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Kinds of retention rule: what a rule keeps.
const (
	// KeepLatestPushed keeps the Count most recently pushed tags (per
	// repository) of those its tags pattern selects.
	KeepLatestPushed = "latest_pushed"
	// KeepPushedWithin keeps the selected tags pushed in the last Days days.
	KeepPushedWithin = "pushed_within"
	// KeepAlways keeps every selected tag.
	KeepAlways = "always"
	// KeepUntagged keeps the untagged manifests of the selected
	// repositories. Without such a rule, untagged manifests of a
	// repository that rules select are deleted.
	KeepUntagged = "untagged"
)

// MaxRetentionRules bounds the rules of a retention policy.
const MaxRetentionRules = 50

// Rule is one retention rule. A tag is kept if any rule keeps it.
type Rule struct {
	// Repositories selects the repositories the rule applies to, relative
	// to the project (Pattern; "" is "**").
	Repositories string `json:"repositories,omitempty"`
	// Tags selects the tags the rule considers (Pattern; "" is "**").
	Tags string `json:"tags,omitempty"`
	// Keep is the kind: latest_pushed, pushed_within, always, untagged.
	Keep  string `json:"keep"`
	Count int    `json:"count,omitempty"` // latest_pushed
	Days  int    `json:"days,omitempty"`  // pushed_within

	repos, tags Pattern
}

// RetentionPolicy is a project's retention rules and schedule, the JSON
// document of the management API.
type RetentionPolicy struct {
	Rules []Rule `json:"rules"`
	// Schedule is how often the rules run by themselves: "" (never),
	// "@hourly", "@daily", "@weekly", or an interval such as "12h".
	Schedule string `json:"schedule,omitempty"`
}

// ParseRetentionPolicy decodes and validates a policy document.
func ParseRetentionPolicy(data []byte) (*RetentionPolicy, error) {
	var p RetentionPolicy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: retention policy: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: retention policy: trailing data", ErrInvalid)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks the policy and compiles its patterns.
func (p *RetentionPolicy) Validate() error {
	if len(p.Rules) > MaxRetentionRules {
		return fmt.Errorf("%w: %d retention rules, at most %d", ErrInvalid, len(p.Rules), MaxRetentionRules)
	}
	if _, err := ParseSchedule(p.Schedule); err != nil {
		return err
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		bad := func(format string, args ...any) error {
			return &RuleError{Rule: i + 1, Msg: fmt.Sprintf(format, args...)}
		}
		var err error
		if r.repos, err = ParsePattern(r.Repositories); err != nil {
			return bad("repositories: %v", err)
		}
		if r.tags, err = ParsePattern(r.Tags); err != nil {
			return bad("tags: %v", err)
		}
		switch r.Keep {
		case KeepLatestPushed:
			if r.Count < 1 || r.Days != 0 {
				return bad("%s needs a count of at least 1 (and no days)", r.Keep)
			}
		case KeepPushedWithin:
			if r.Days < 1 || r.Count != 0 {
				return bad("%s needs days, at least 1 (and no count)", r.Keep)
			}
		case KeepAlways:
			if r.Count != 0 || r.Days != 0 {
				return bad("%s takes no count or days", r.Keep)
			}
		case KeepUntagged:
			if r.Count != 0 || r.Days != 0 || strings.TrimSpace(r.Tags) != "" {
				return bad("%s takes no tags, count or days", r.Keep)
			}
		default:
			return bad("keep %q is not one of %s, %s, %s, %s", r.Keep, KeepLatestPushed, KeepPushedWithin, KeepAlways, KeepUntagged)
		}
	}
	return nil
}

// RuleError is an ErrInvalid about one rule of a retention policy, so a
// form can show it beside that rule.
type RuleError struct {
	Rule int // 1-based
	Msg  string
}

func (e *RuleError) Error() string { return fmt.Sprintf("%v: rule %d: %s", ErrInvalid, e.Rule, e.Msg) }

// Unwrap makes a RuleError an ErrInvalid.
func (e *RuleError) Unwrap() error { return ErrInvalid }

// ParseSchedule returns the interval of a schedule; 0 for none.
func ParseSchedule(s string) (time.Duration, error) {
	switch s {
	case "":
		return 0, nil
	case "@hourly":
		return time.Hour, nil
	case "@daily":
		return 24 * time.Hour, nil
	case "@weekly":
		return 7 * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("%w: schedule %q: use @hourly, @daily, @weekly or an interval of at least 1h (e.g. 12h)", ErrInvalid, s)
	}
	return d, nil
}

// Verdict is the fate of one tag or untagged manifest in a retention run.
type Verdict struct {
	Repository string        `json:"repository"`
	Tag        string        `json:"tag,omitempty"` // "" for an untagged manifest
	Digest     digest.Digest `json:"digest"`
	PushedAt   time.Time     `json:"pushed_at"`
	// Keep: kept; else it is deleted.
	Keep bool `json:"keep"`
	// Reason says which rule kept it ("rule 2: latest_pushed 5"), or that
	// it is immutable, recent, or matched by no rule.
	Reason string `json:"reason"`
}

// Evaluate decides the fate of a repository's tags and untagged
// manifests. It returns nothing when no rule selects the repository: the
// policy leaves it alone. Immutable tags are always kept; untagged
// manifests pushed after graceStart too.
func (p *RetentionPolicy) Evaluate(now time.Time, repo string, tags []meta.TagDetail, untagged []meta.UntaggedManifest,
	immutable *TagRules, graceStart time.Time) []Verdict {
	rel := relative(repo)
	var rules []int
	for i := range p.Rules {
		if p.Rules[i].repos.Match(rel) {
			rules = append(rules, i)
		}
	}
	if len(rules) == 0 {
		return nil
	}
	out := make([]Verdict, 0, len(tags)+len(untagged))
	reasons := make([]string, len(tags))
	for _, i := range rules {
		r := &p.Rules[i]
		why := fmt.Sprintf("rule %d: %s", i+1, r.describe())
		var sel []int // indexes of the tags the rule considers
		for j, t := range tags {
			if r.tags.Match(t.Name) {
				sel = append(sel, j)
			}
		}
		switch r.Keep {
		case KeepAlways:
		case KeepPushedWithin:
			since := now.Add(-time.Duration(r.Days) * 24 * time.Hour)
			sel = slices.DeleteFunc(sel, func(j int) bool { return tags[j].PushedAt.Before(since) })
		case KeepLatestPushed:
			slices.SortStableFunc(sel, func(a, b int) int {
				if c := tags[b].PushedAt.Compare(tags[a].PushedAt); c != 0 {
					return c // newest first
				}
				return strings.Compare(tags[a].Name, tags[b].Name)
			})
			sel = sel[:min(len(sel), r.Count)]
		default: // untagged
			sel = nil
		}
		for _, j := range sel {
			if reasons[j] == "" {
				reasons[j] = why
			}
		}
	}
	for j, t := range tags {
		v := Verdict{Repository: repo, Tag: t.Name, Digest: t.Digest, PushedAt: t.PushedAt, Keep: reasons[j] != "", Reason: reasons[j]}
		if !v.Keep {
			if r := immutable.Rule(t.Name); r != nil {
				v.Keep, v.Reason = true, fmt.Sprintf("immutable (immutability rule %d)", r.ID)
			} else {
				v.Reason = "kept by no rule"
			}
		}
		out = append(out, v)
	}
	keepUntagged := ""
	for _, i := range rules {
		if p.Rules[i].Keep == KeepUntagged {
			keepUntagged = fmt.Sprintf("rule %d: %s", i+1, p.Rules[i].describe())
			break
		}
	}
	for _, m := range untagged {
		v := Verdict{Repository: repo, Digest: m.Digest, PushedAt: m.PushedAt, Keep: true, Reason: keepUntagged}
		switch {
		case keepUntagged != "":
		case !m.PushedAt.Before(graceStart):
			v.Reason = "untagged, but pushed within the grace period"
		default:
			v.Keep, v.Reason = false, "untagged, and no rule keeps untagged manifests"
		}
		out = append(out, v)
	}
	return out
}

// describe is a rule in words, for reasons and logs.
func (r *Rule) describe() string {
	sel := fmt.Sprintf("repositories %q", r.repos.String())
	if r.Keep != KeepUntagged {
		sel += fmt.Sprintf(", tags %q", r.tags.String())
	}
	switch r.Keep {
	case KeepLatestPushed:
		return fmt.Sprintf("keep the %d most recently pushed (%s)", r.Count, sel)
	case KeepPushedWithin:
		return fmt.Sprintf("keep those pushed in the last %d days (%s)", r.Days, sel)
	case KeepAlways:
		return fmt.Sprintf("always keep (%s)", sel)
	}
	return fmt.Sprintf("keep untagged manifests (%s)", sel)
}
