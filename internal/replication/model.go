package replication

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Registry types. They differ only in small ways: Docker Hub's implicit
// "library/" namespace and its missing catalog; the others speak the
// Distribution API (OCI 1.1 where they have the referrers API).
const (
	TypeBerth        = "berth"
	TypeOCI          = "oci"
	TypeDistribution = "distribution"
	TypeHarbor       = "harbor"
	TypeDockerHub    = "dockerhub"
)

var registryTypes = []string{TypeBerth, TypeOCI, TypeDistribution, TypeHarbor, TypeDockerHub}

// Registry is a remote registry an administrator registered.
type Registry struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	URL         string `json:"url"` // https://host[:port] (http:// for a plain-HTTP registry)
	Description string `json:"description,omitempty"`
	// Username and Password (or a Token: a registry bearer token) for Basic
	// or token-service authentication. Never returned by the API.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// CACert: PEM certificates to trust beside the system's; Insecure
	// skips TLS verification.
	CACert    string    `json:"ca_cert,omitempty"`
	Insecure  bool      `json:"insecure,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// validName: names of registries and rules (URL path segments).
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func (r *Registry) validate() error {
	if !validName.MatchString(r.Name) {
		return fmt.Errorf("%w: name %q: lowercase letters, digits, '.', '_', '-', at most 63", ErrInvalid, r.Name)
	}
	if r.Type == "" {
		r.Type = TypeOCI
	}
	if !contains(registryTypes, r.Type) {
		return fmt.Errorf("%w: type %q: one of %s", ErrInvalid, r.Type, strings.Join(registryTypes, ", "))
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%w: url %q: want http(s)://host[:port]", ErrInvalid, r.URL)
	}
	r.URL = u.Scheme + "://" + u.Host
	if r.Token != "" && (r.Username != "" || r.Password != "") {
		return fmt.Errorf("%w: give a token or a username and password, not both", ErrInvalid)
	}
	return nil
}

// Redacted is the registry without its secrets, as the API shows it.
func (r Registry) Redacted() Registry {
	if r.Password != "" {
		r.Password = redacted
	}
	if r.Token != "" {
		r.Token = redacted
	}
	return r
}

// redacted stands for a secret in API answers; sent back unchanged in an
// update, it keeps the stored secret.
const redacted = "********"

// Directions of a rule.
const (
	Push = "push" // local -> remote
	Pull = "pull" // remote -> local
)

// Rule says what to replicate between Berth and a registered registry.
type Rule struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Enabled     bool   `json:"enabled"`
	Direction   string `json:"direction"`
	Registry    string `json:"registry"`

	// Source filters. Repositories is a pattern of comma-separated globs
	// (internal/policy's syntax, "!" negates; "" is everything), over the
	// source's repository names; RepositoryRegex must match as well.
	Repositories    string `json:"repositories,omitempty"`
	RepositoryRegex string `json:"repository_regex,omitempty"`
	// Tags (a glob pattern), TagRegex (whole tag) and Semver (a range such
	// as ">=1.2, <2") select tags; Latest keeps the N highest (versions
	// first, highest first, then other tags in reverse lexical order).
	Tags     string `json:"tags,omitempty"`
	TagRegex string `json:"tag_regex,omitempty"`
	Semver   string `json:"semver,omitempty"`
	Latest   int    `json:"latest,omitempty"`
	// ArtifactTypes: only artifacts of these types (an image's config
	// media type, or the manifest's artifactType); an index without an
	// artifactType always passes. Empty: all.
	ArtifactTypes []string `json:"artifact_types,omitempty"`

	// Destination rewrites repository names.
	Destination Rewrite `json:"destination"`

	// Override replaces a destination tag that points elsewhere (default
	// true); off, such a tag is skipped.
	Override *bool `json:"override,omitempty"`
	// Deletions replicates tag and manifest deletions (events), and
	// deletes at the destination the selected tags the source no longer
	// has (full runs).
	Deletions bool `json:"deletions"`
	// Referrers copies each artifact's referrers and cosign's
	// sha256-<hex>.sig/.att/.sbom tags with it (default true).
	Referrers *bool `json:"referrers,omitempty"`

	// Concurrency: artifacts copied at once (default 4); Bandwidth: bytes
	// per second over the rule's copies (0: no limit).
	Concurrency int   `json:"concurrency,omitempty"`
	Bandwidth   int64 `json:"bandwidth,omitempty"`

	// Schedule: a cron expression (5 fields, or @hourly, @every 30m...)
	// for full runs. Events: push rules also replicate each push and
	// deletion seconds after it lands (and reconcile periodically).
	Schedule  string    `json:"schedule,omitempty"`
	Events    bool      `json:"events"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Rewrite turns a source repository name into the destination's:
// StripPrefix is removed, then Flatten leading path components (-1: all
// but the last), then Namespace is prepended.
//
//	team/app/api, strip "team/", flatten 0, namespace "dr"  -> dr/app/api
//	team/app/api, flatten -1, namespace "mirror"          -> mirror/api
type Rewrite struct {
	StripPrefix string `json:"strip_prefix,omitempty"`
	Flatten     int    `json:"flatten,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
}

func (r *Rule) override() bool  { return r.Override == nil || *r.Override }
func (r *Rule) referrers() bool { return r.Referrers == nil || *r.Referrers }

func (r *Rule) validate() error {
	if !validName.MatchString(r.Name) {
		return fmt.Errorf("%w: name %q: lowercase letters, digits, '.', '_', '-', at most 63", ErrInvalid, r.Name)
	}
	if r.Direction != Push && r.Direction != Pull {
		return fmt.Errorf("%w: direction %q: push or pull", ErrInvalid, r.Direction)
	}
	if r.Registry == "" {
		return fmt.Errorf("%w: registry: name a registered registry", ErrInvalid)
	}
	if r.Concurrency == 0 {
		r.Concurrency = 4
	}
	if r.Concurrency < 1 || r.Concurrency > 64 {
		return fmt.Errorf("%w: concurrency %d: 1..64", ErrInvalid, r.Concurrency)
	}
	if r.Bandwidth < 0 {
		return fmt.Errorf("%w: bandwidth must not be negative", ErrInvalid)
	}
	if r.Bandwidth > 0 && r.Bandwidth < 1024 {
		return fmt.Errorf("%w: bandwidth %d bytes/s is under 1 KiB/s", ErrInvalid, r.Bandwidth)
	}
	if r.Events && r.Direction == Pull {
		return fmt.Errorf("%w: events trigger push rules only (a pull rule runs on its schedule)", ErrInvalid)
	}
	if r.Schedule != "" {
		if _, err := ParseSchedule(r.Schedule); err != nil {
			return err
		}
	}
	_, err := compileFilter(r)
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
