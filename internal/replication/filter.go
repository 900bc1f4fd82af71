package replication

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/robfig/cron/v3"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/policy"
)

// filter is a rule's compiled selection and rewriting.
type filter struct {
	repos         policy.Pattern
	repoRE        *regexp.Regexp
	tags          policy.Pattern
	tagRE         *regexp.Regexp
	semver        *semver.Constraints
	latest        int
	artifactTypes []string
	rw            Rewrite
}

// maxExpr bounds a rule's regular expressions and ranges.
const maxExpr = 1024

func compileFilter(r *Rule) (*filter, error) {
	f := &filter{latest: r.Latest, artifactTypes: r.ArtifactTypes, rw: r.Destination}
	var err error
	if f.repos, err = policy.ParsePattern(r.Repositories); err != nil {
		return nil, fmt.Errorf("%w: repositories: %v", ErrInvalid, err)
	}
	if f.tags, err = policy.ParsePattern(r.Tags); err != nil {
		return nil, fmt.Errorf("%w: tags: %v", ErrInvalid, err)
	}
	if f.repoRE, err = wholeRegexp("repository_regex", r.RepositoryRegex); err != nil {
		return nil, err
	}
	if f.tagRE, err = wholeRegexp("tag_regex", r.TagRegex); err != nil {
		return nil, err
	}
	if r.Semver != "" {
		if len(r.Semver) > maxExpr {
			return nil, fmt.Errorf("%w: semver: longer than %d bytes", ErrInvalid, maxExpr)
		}
		if f.semver, err = semver.NewConstraint(r.Semver); err != nil {
			return nil, fmt.Errorf("%w: semver %q: %v", ErrInvalid, r.Semver, err)
		}
	}
	if r.Latest < 0 || r.Latest > 100000 {
		return nil, fmt.Errorf("%w: latest %d: 0..100000", ErrInvalid, r.Latest)
	}
	rw := r.Destination
	if rw.Namespace != "" && !oci.ValidName(rw.Namespace) {
		return nil, fmt.Errorf("%w: destination namespace %q is not a repository name", ErrInvalid, rw.Namespace)
	}
	if rw.StripPrefix != "" && (len(rw.StripPrefix) > 255 || strings.HasPrefix(rw.StripPrefix, "/")) {
		return nil, fmt.Errorf("%w: destination strip_prefix %q", ErrInvalid, rw.StripPrefix)
	}
	if rw.Flatten < -1 || rw.Flatten > 32 {
		return nil, fmt.Errorf("%w: destination flatten %d: -1 (all but the last) or 0..32", ErrInvalid, rw.Flatten)
	}
	for _, t := range r.ArtifactTypes {
		if t == "" || len(t) > 255 {
			return nil, fmt.Errorf("%w: artifact type %q", ErrInvalid, t)
		}
	}
	return f, nil
}

func wholeRegexp(field, s string) (*regexp.Regexp, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > maxExpr {
		return nil, fmt.Errorf("%w: %s: longer than %d bytes", ErrInvalid, field, maxExpr)
	}
	re, err := regexp.Compile(`^(?:` + s + `)$`)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
	}
	return re, nil
}

// repo tells whether a source repository is selected.
func (f *filter) repo(name string) bool {
	return f.repos.Match(name) && (f.repoRE == nil || f.repoRE.MatchString(name))
}

// literalRepos returns the repositories the pattern names when it names
// them all without wildcards (a pull rule then needs no catalog).
func (f *filter) literalRepos() ([]string, bool) {
	src := strings.TrimSpace(f.repos.String())
	if src == "" || strings.HasPrefix(src, "!") || strings.ContainsAny(src, "*?[]{}\\") {
		return nil, false
	}
	var out []string
	for _, p := range strings.Split(src, ",") {
		p = strings.TrimSpace(p)
		if !oci.ValidName(p) {
			return nil, false
		}
		if f.repo(p) {
			out = append(out, p)
		}
	}
	return out, true
}

// tag tells whether one tag passes the tag filters (Latest aside: it
// needs every tag).
func (f *filter) tag(t string) bool {
	if isSignatureTag(t) || !f.tags.Match(t) || (f.tagRE != nil && !f.tagRE.MatchString(t)) {
		return false
	}
	if f.semver != nil {
		v, err := semver.NewVersion(t)
		if err != nil || !f.semver.Check(v) {
			return false
		}
	}
	return true
}

// selectTags applies every tag filter, Latest included; the result is
// ordered highest first.
func (f *filter) selectTags(tags []string) []string {
	type tv struct {
		tag string
		v   *semver.Version
	}
	var sel []tv
	for _, t := range tags {
		if !f.tag(t) {
			continue
		}
		v, err := semver.NewVersion(t)
		if err != nil {
			v = nil
		}
		sel = append(sel, tv{t, v})
	}
	slices.SortStableFunc(sel, func(a, b tv) int {
		switch {
		case a.v != nil && b.v != nil:
			if c := b.v.Compare(a.v); c != 0 {
				return c
			}
		case a.v != nil:
			return -1
		case b.v != nil:
			return 1
		}
		return strings.Compare(b.tag, a.tag)
	})
	if f.latest > 0 && len(sel) > f.latest {
		sel = sel[:f.latest]
	}
	out := make([]string, len(sel))
	for i, s := range sel {
		out[i] = s.tag
	}
	return out
}

// artifactType tells whether an artifact of type t (its artifactType or
// config media type; "" for an index without one) is selected.
func (f *filter) artifactType(t string) bool {
	return len(f.artifactTypes) == 0 || t == "" || contains(f.artifactTypes, t)
}

// rewrite returns the destination repository of a source repository.
func (f *filter) rewrite(repo string) (string, error) {
	name := strings.TrimPrefix(repo, f.rw.StripPrefix)
	name = strings.Trim(name, "/")
	parts := strings.Split(name, "/")
	switch n := f.rw.Flatten; {
	case n == -1:
		parts = parts[len(parts)-1:]
	case n > 0:
		parts = parts[min(n, len(parts)-1):]
	}
	name = strings.Join(parts, "/")
	if f.rw.Namespace != "" {
		name = f.rw.Namespace + "/" + name
	}
	if !oci.ValidName(name) {
		return "", fmt.Errorf("%w: %s rewrites to %q, not a repository name", ErrInvalid, repo, name)
	}
	return name, nil
}

// signatureTag: cosign's tags (sha256-<hex>.sig, .att, .sbom) and the
// referrers tag scheme's (sha256-<hex>). They travel with their subject,
// never as tags of their own.
var signatureTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$`)

func isSignatureTag(t string) bool { return signatureTag.MatchString(t) }

// isCosignTag: a cosign signature, attestation or SBOM tag.
func isCosignTag(t string) bool { return isSignatureTag(t) && len(t) > len("sha256-")+64 }

// cosignSuffixes are the tags cosign attaches to a digest.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// ParseSchedule parses a rule's schedule: standard cron (minute hour
// day-of-month month day-of-week) or a descriptor (@hourly, @daily,
// @every 30m).
func ParseSchedule(s string) (sched cron.Schedule, err error) {
	if len(s) > 256 {
		return nil, fmt.Errorf("%w: schedule: longer than 256 bytes", ErrInvalid)
	}
	// cron v3.0.1 slices out of range on a time zone prefix with nothing
	// after it ("TZ="), found by FuzzParseSchedule; refuse that shape, and
	// turn any other panic of the parser into an error.
	if (strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=")) && !strings.Contains(s, " ") {
		return nil, fmt.Errorf("%w: schedule %q: a time zone needs a schedule after it", ErrInvalid, s)
	}
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, fmt.Errorf("%w: schedule %q: %v", ErrInvalid, s, p)
		}
	}()
	sched, err = cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("%w: schedule %q: %v", ErrInvalid, s, err)
	}
	return sched, nil
}
