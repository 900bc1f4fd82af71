package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/berth-registry/berth/internal/oci"
)

// Proxy configures the pull-through cache: upstream registries whose
// images Berth fetches on demand and keeps (docs/proxy.md).
type Proxy struct {
	// Upstreams are the registries proxied; none by default.
	Upstreams []Upstream `yaml:"upstreams"`
	// SpoolDir holds blobs while they stream from an upstream to clients
	// and into storage (default <data>/proxy-spool). Local to each instance.
	SpoolDir string `yaml:"spool_dir"`
	// EvictionInterval is how often cache size and age limits are enforced.
	EvictionInterval time.Duration `yaml:"eviction_interval"`
	// InUseGrace protects what was pulled this recently from eviction: a
	// client that got a manifest is still fetching its blobs.
	InUseGrace time.Duration `yaml:"in_use_grace"`
}

// Upstream is one proxied registry.
type Upstream struct {
	// Name identifies the upstream in metrics, logs and the API.
	Name string `yaml:"name"`
	// URL is the registry's base URL, e.g. https://registry-1.docker.io.
	URL string `yaml:"url"`
	// Username and Password, or Token (a registry token), authenticate to
	// the upstream; none means anonymous. Docker Hub's token flow is
	// handled for either.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	// Project is the repository prefix the upstream's cache lives under and
	// that clients may pull through ("dockerhub/library/nginx"); default Name.
	Project string `yaml:"project"`
	// Namespaces are the registry hosts this upstream stands for, selected
	// by a client's ?ns= parameter (containerd's mirrors), e.g. docker.io.
	Namespaces []string `yaml:"namespaces"`
	// Mirror makes this upstream serve names that exist neither locally nor
	// under a project (a Docker daemon's registry-mirrors). At most one.
	Mirror bool `yaml:"mirror"`
	// ManifestTTL is how long a cached tag is served without asking the
	// upstream whether it moved.
	ManifestTTL time.Duration `yaml:"manifest_ttl"`
	// CacheSize bounds the bytes cached from this upstream (0: no bound);
	// the least recently pulled images go first.
	CacheSize ByteSize `yaml:"cache_size"`
	// MaxAge evicts images not pulled for this long (0: never).
	MaxAge time.Duration `yaml:"max_age"`
	// Timeout bounds a request to the upstream until its response headers.
	Timeout time.Duration `yaml:"timeout"`
	// Insecure skips TLS certificate verification; CAFile adds a CA.
	Insecure bool   `yaml:"insecure"`
	CAFile   string `yaml:"ca_file"`
	// Sync lists repositories kept in sync from this upstream on a
	// schedule (pull replication), every SyncInterval.
	Sync         []SyncRule    `yaml:"sync"`
	SyncInterval time.Duration `yaml:"sync_interval"`
}

// SyncRule selects tags of one upstream repository to mirror ahead of pulls.
// The filters apply in order: Tags, then Semver, then Latest.
type SyncRule struct {
	// Repository is the name at the upstream (library/nginx).
	Repository string `yaml:"repository"`
	// Tags is a regular expression a tag must match as a whole ("" all).
	Tags string `yaml:"tags"`
	// Semver is a version range a tag must satisfy, e.g. ">=1.25, <2" or
	// "~1.27" ("" any; tags that are not versions never satisfy one).
	Semver string `yaml:"semver"`
	// Latest keeps only the N highest tags: by version when they are
	// versions, else in reverse lexical order (0: all).
	Latest int `yaml:"latest"`
}

// oneComponent: a short name that is one repository name component.
func oneComponent(s string) bool {
	return oci.ValidName(s) && !strings.Contains(s, "/") && len(s) <= 64
}

func (p *Proxy) derive(data string) {
	if p.SpoolDir == "" {
		p.SpoolDir = filepath.Join(data, "proxy-spool")
	}
	if p.EvictionInterval == 0 {
		p.EvictionInterval = time.Minute
	}
	if p.InUseGrace == 0 {
		p.InUseGrace = 10 * time.Minute
	}
	for i := range p.Upstreams {
		u := &p.Upstreams[i]
		if u.Project == "" {
			u.Project = u.Name
		}
		if u.ManifestTTL == 0 {
			u.ManifestTTL = 5 * time.Minute
		}
		if u.Timeout == 0 {
			u.Timeout = 30 * time.Second
		}
		if u.SyncInterval == 0 && len(u.Sync) > 0 {
			u.SyncInterval = time.Hour
		}
	}
}

func (p *Proxy) validate(bad func(string, ...any)) {
	names, projects, namespaces := map[string]bool{}, map[string]bool{}, map[string]string{}
	mirrors := 0
	if p.EvictionInterval < 0 || p.InUseGrace < 0 {
		bad("proxy.eviction_interval, proxy.in_use_grace: must not be negative")
	}
	for i, u := range p.Upstreams {
		at := fmt.Sprintf("proxy.upstreams[%d]", i)
		if !oneComponent(u.Name) {
			bad("%s.name: %q must be a short lower-case name ([a-z0-9._-])", at, u.Name)
		} else if names[u.Name] {
			bad("%s.name: %q is used twice", at, u.Name)
		}
		names[u.Name] = true
		if pu, err := url.Parse(u.URL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" ||
			(pu.Path != "" && pu.Path != "/") || pu.User != nil || pu.RawQuery != "" {
			bad("%s.url: %q must be http(s)://host[:port], without a path or credentials", at, u.URL)
		}
		if !oneComponent(u.Project) {
			bad("%s.project: %q is not a valid repository name component", at, u.Project)
		} else if projects[u.Project] {
			bad("%s.project: %q is used by another upstream", at, u.Project)
		}
		projects[u.Project] = true
		for _, ns := range u.Namespaces {
			if ns == "" {
				bad("%s.namespaces: empty namespace", at)
			} else if other, ok := namespaces[ns]; ok {
				bad("%s.namespaces: %q is served by %s too", at, ns, other)
			}
			namespaces[ns] = u.Name
		}
		if u.Mirror {
			mirrors++
		}
		if u.Token != "" && (u.Username != "" || u.Password != "") {
			bad("%s: set a token or a username and password, not both", at)
		}
		if (u.Username == "") != (u.Password == "") {
			bad("%s: username and password must be set together", at)
		}
		if u.ManifestTTL < 0 || u.MaxAge < 0 || u.Timeout < 0 || u.CacheSize < 0 {
			bad("%s: manifest_ttl, max_age, timeout and cache_size must not be negative", at)
		}
		for j, s := range u.Sync {
			where := fmt.Sprintf("%s.sync[%d]", at, j)
			if !oci.ValidName(s.Repository) {
				bad("%s.repository: %q is not a valid repository name", where, s.Repository)
			}
			if _, err := regexp.Compile(s.Tags); err != nil {
				bad("%s.tags: %v", where, err)
			}
			if s.Semver != "" {
				if _, err := semver.NewConstraint(s.Semver); err != nil {
					bad("%s.semver: %q: %v", where, s.Semver, err)
				}
			}
			if s.Latest < 0 {
				bad("%s.latest: must not be negative", where)
			}
		}
		if u.SyncInterval < 0 {
			bad("%s.sync_interval: must not be negative", at)
		}
		if u.CAFile != "" {
			if _, err := os.Stat(u.CAFile); err != nil {
				bad("%s.ca_file: %v", at, err)
			}
		}
	}
	if mirrors > 1 {
		bad("proxy.upstreams: %d upstreams set mirror: true, at most one may", mirrors)
	}
}
