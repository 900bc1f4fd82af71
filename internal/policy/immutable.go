package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// MaxImmutableRules bounds the immutability rules of one project.
const MaxImmutableRules = 100

// ImmutableError refuses a change to an immutable tag, naming the rule.
type ImmutableError struct {
	Repo, Tag string
	Op        string // "overwritten" or "deleted"
	Rule      meta.ImmutableRule
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("tag %s of %s is immutable (project %s, immutability rule %d: repositories %q, tags %q) and cannot be %s",
		e.Tag, e.Repo, e.Rule.Project, e.Rule.ID, e.Rule.Repositories, e.Rule.Tags, e.Op)
}

// Unwrap makes errors.Is(err, ErrTagImmutable) true.
func (e *ImmutableError) Unwrap() error { return ErrTagImmutable }

// TagRules are the immutability rules that apply to one repository. The
// zero value (or nil) makes nothing immutable.
type TagRules struct {
	repo  string
	rules []tagRule
}

type tagRule struct {
	meta.ImmutableRule
	tags Pattern
}

// TagRules loads the immutability rules of repo's project that select repo.
func (e *Engine) TagRules(ctx context.Context, repo string) (*TagRules, error) {
	rules, err := e.store.ImmutableRules(ctx, ProjectOf(repo))
	if err != nil {
		return nil, err
	}
	t := &TagRules{repo: repo}
	rel := relative(repo)
	for _, r := range rules {
		repos, err1 := ParsePattern(r.Repositories)
		tags, err2 := ParsePattern(r.Tags)
		if err := errors.Join(err1, err2); err != nil {
			// Stored rules were validated; one that no longer parses is
			// taken at its word as broadly as possible: it protects all.
			e.log.WarnContext(ctx, "immutability rule does not parse; treating it as protecting every tag", "project", r.Project, "rule", r.ID, "error", err)
			repos, tags = Pattern{}, Pattern{}
		}
		if repos.Match(rel) {
			t.rules = append(t.rules, tagRule{r, tags})
		}
	}
	return t, nil
}

// Empty reports whether no rule applies.
func (t *TagRules) Empty() bool { return t == nil || len(t.rules) == 0 }

// Rule returns the first rule that makes tag immutable, or nil.
func (t *TagRules) Rule(tag string) *meta.ImmutableRule {
	if t == nil {
		return nil
	}
	for i := range t.rules {
		if t.rules[i].tags.Match(tag) {
			return &t.rules[i].ImmutableRule
		}
	}
	return nil
}

// Immutable returns the tags, of those given, that are immutable.
func (t *TagRules) Immutable(tags []string) []string {
	var out []string
	for _, tag := range tags {
		if t.Rule(tag) != nil {
			out = append(out, tag)
		}
	}
	return out
}

// Check returns an *ImmutableError when one of tags is immutable; op says
// what was attempted ("overwritten", "deleted").
func (t *TagRules) Check(op string, tags ...string) error {
	for _, tag := range tags {
		if r := t.Rule(tag); r != nil {
			return &ImmutableError{Repo: t.repo, Tag: tag, Op: op, Rule: *r}
		}
	}
	return nil
}

// ValidProject checks a project name (one repository name component).
func ValidProject(project string) error {
	if strings.Contains(project, "/") || !oci.ValidName(project) {
		return fmt.Errorf("%w: %q is not a project name (the first component of a repository name)", ErrInvalid, project)
	}
	return nil
}

// checkRule validates a rule and fills in default patterns.
func checkRule(r *meta.ImmutableRule) error {
	if err := ValidProject(r.Project); err != nil {
		return err
	}
	if strings.TrimSpace(r.Repositories) == "" {
		r.Repositories = "**"
	}
	if strings.TrimSpace(r.Tags) == "" {
		return fmt.Errorf("%w: an immutability rule needs a tags pattern (\"**\" for every tag)", ErrInvalid)
	}
	if _, err := ParsePattern(r.Repositories); err != nil {
		return fmt.Errorf("repositories: %w", err)
	}
	if _, err := ParsePattern(r.Tags); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	return nil
}

// ImmutableRules lists a project's immutability rules.
func (e *Engine) ImmutableRules(ctx context.Context, project string) ([]meta.ImmutableRule, error) {
	if err := ValidProject(project); err != nil {
		return nil, err
	}
	return e.store.ImmutableRules(ctx, project)
}

// AddImmutableRule validates and stores a new rule.
func (e *Engine) AddImmutableRule(ctx context.Context, r meta.ImmutableRule) (meta.ImmutableRule, error) {
	if err := checkRule(&r); err != nil {
		return r, err
	}
	rules, err := e.store.ImmutableRules(ctx, r.Project)
	if err != nil {
		return r, err
	}
	if len(rules) >= MaxImmutableRules {
		return r, fmt.Errorf("%w: project %s has %d immutability rules, the most there may be", ErrInvalid, r.Project, len(rules))
	}
	return e.store.AddImmutableRule(ctx, r)
}

// UpdateImmutableRule validates and changes a rule.
func (e *Engine) UpdateImmutableRule(ctx context.Context, r meta.ImmutableRule) error {
	if err := checkRule(&r); err != nil {
		return err
	}
	return notFound(e.store.UpdateImmutableRule(ctx, r))
}

// DeleteImmutableRule removes a rule.
func (e *Engine) DeleteImmutableRule(ctx context.Context, project string, id int64) error {
	if err := ValidProject(project); err != nil {
		return err
	}
	return notFound(e.store.DeleteImmutableRule(ctx, project, id))
}

// notFound turns the store's not-found into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("%w: %v", ErrNotFound, strings.TrimPrefix(err.Error(), meta.ErrNotFound.Error()+": "))
	}
	return err
}
