// Package distribution reads the configuration of CNCF Distribution
// (registry:2, `version: 0.1`) with Distribution's own rules, and maps it
// onto Berth's configuration with a report of what each key became.
//
// Reading follows Distribution 2.8 and 3: the file is YAML (parsed with
// YAML 1.1 rules, as Distribution's yaml.v2 does), then the REGISTRY_*
// environment variables are applied in sorted order (env.go). One rule is
// Berth's own: an unknown key in the file is an error naming it, where
// Distribution silently ignores it (a mistyped auth or storage key would
// otherwise quietly change what the registry does).
package distribution

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v2"
)

// Configuration is Distribution's configuration (configuration.go of
// Distribution 2.8 and 3): the same Go field names, so that the REGISTRY_*
// names derived from them are the same. Sections Berth only ignores are
// kept loose (Section) rather than modelled field by field.
type Configuration struct {
	Version       Version       `yaml:"version"`
	Log           Log           `yaml:"log"`
	Loglevel      string        `yaml:"loglevel,omitempty"` // deprecated: log.level
	Storage       Storage       `yaml:"storage"`
	Auth          Auth          `yaml:"auth,omitempty"`
	Middleware    Section       `yaml:"middleware,omitempty"`
	Reporting     Section       `yaml:"reporting,omitempty"`
	HTTP          HTTP          `yaml:"http,omitempty"`
	Notifications Notifications `yaml:"notifications,omitempty"`
	Redis         Section       `yaml:"redis,omitempty"`
	Health        Health        `yaml:"health,omitempty"`
	Catalog       Catalog       `yaml:"catalog,omitempty"`
	Proxy         Proxy         `yaml:"proxy,omitempty"`
	Compatibility Section       `yaml:"compatibility,omitempty"`
	Validation    Validation    `yaml:"validation,omitempty"`
	Policy        Section       `yaml:"policy,omitempty"`
}

// Section is a part of the configuration Berth does not use; it is read
// only to be reported.
type Section map[string]any

// Version is "major.minor"; Berth reads 0.1, the only one there is.
type Version string

// UnmarshalYAML accepts X.Y with unsigned integers, as Distribution does.
func (v *Version) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	major, minor, ok := strings.Cut(s, ".")
	if _, err := strconv.ParseUint(major, 10, 0); err != nil || !ok {
		return fmt.Errorf("version %q is not MAJOR.MINOR", s)
	}
	if _, err := strconv.ParseUint(minor, 10, 0); err != nil {
		return fmt.Errorf("version %q is not MAJOR.MINOR", s)
	}
	*v = Version(s)
	return nil
}

// Log is Distribution's log section.
type Log struct {
	AccessLog struct {
		Disabled bool `yaml:"disabled,omitempty"`
	} `yaml:"accesslog,omitempty"`
	Level        string         `yaml:"level,omitempty"`
	Formatter    string         `yaml:"formatter,omitempty"`
	Fields       map[string]any `yaml:"fields,omitempty"`
	Hooks        []any          `yaml:"hooks,omitempty"`
	ReportCaller bool           `yaml:"reportcaller,omitempty"`
}

// HTTP is Distribution's http section.
type HTTP struct {
	Addr         string        `yaml:"addr,omitempty"`
	Net          string        `yaml:"net,omitempty"`
	Host         string        `yaml:"host,omitempty"`
	Prefix       string        `yaml:"prefix,omitempty"`
	Secret       string        `yaml:"secret,omitempty"`
	RelativeURLs bool          `yaml:"relativeurls,omitempty"`
	DrainTimeout time.Duration `yaml:"draintimeout,omitempty"`
	TLS          TLS           `yaml:"tls,omitempty"`
	Headers      http.Header   `yaml:"headers,omitempty"`
	Debug        struct {
		Addr       string `yaml:"addr,omitempty"`
		Prometheus struct {
			Enabled bool   `yaml:"enabled,omitempty"`
			Path    string `yaml:"path,omitempty"`
		} `yaml:"prometheus,omitempty"`
	} `yaml:"debug,omitempty"`
	HTTP2 struct {
		Disabled bool `yaml:"disabled,omitempty"`
	} `yaml:"http2,omitempty"`
	H2C struct {
		Enabled bool `yaml:"enabled,omitempty"`
	} `yaml:"h2c,omitempty"`
}

// TLS is http.tls.
type TLS struct {
	Certificate  string   `yaml:"certificate,omitempty"`
	Key          string   `yaml:"key,omitempty"`
	ClientCAs    []string `yaml:"clientcas,omitempty"`
	ClientAuth   string   `yaml:"clientauth,omitempty"`
	MinimumTLS   string   `yaml:"minimumtls,omitempty"`
	CipherSuites []string `yaml:"ciphersuites,omitempty"`
	LetsEncrypt  struct {
		CacheFile    string   `yaml:"cachefile,omitempty"`
		Email        string   `yaml:"email,omitempty"`
		Hosts        []string `yaml:"hosts,omitempty"`
		DirectoryURL string   `yaml:"directoryurl,omitempty"`
	} `yaml:"letsencrypt,omitempty"`
}

// Notifications is the webhook section.
type Notifications struct {
	EventConfig Section    `yaml:"events,omitempty"`
	Endpoints   []Endpoint `yaml:"endpoints,omitempty"`
}

// Endpoint is one webhook.
type Endpoint struct {
	Name              string        `yaml:"name"`
	Disabled          bool          `yaml:"disabled"`
	URL               string        `yaml:"url"`
	Headers           http.Header   `yaml:"headers"`
	Timeout           time.Duration `yaml:"timeout"`
	Threshold         int           `yaml:"threshold"`
	Backoff           time.Duration `yaml:"backoff"`
	IgnoredMediaTypes []string      `yaml:"ignoredmediatypes"`
	Ignore            Section       `yaml:"ignore"`
}

// Health is Distribution's health checks section.
type Health struct {
	FileCheckers  []Section `yaml:"file,omitempty"`
	HTTPCheckers  []Section `yaml:"http,omitempty"`
	TCPCheckers   []Section `yaml:"tcp,omitempty"`
	StorageDriver struct {
		Enabled   bool          `yaml:"enabled,omitempty"`
		Interval  time.Duration `yaml:"interval,omitempty"`
		Threshold int           `yaml:"threshold,omitempty"`
	} `yaml:"storagedriver,omitempty"`
}

// Catalog bounds _catalog pages.
type Catalog struct {
	MaxEntries int `yaml:"maxentries,omitempty"`
}

// Proxy makes Distribution a pull-through cache of one registry.
type Proxy struct {
	RemoteURL string         `yaml:"remoteurl"`
	Username  string         `yaml:"username"`
	Password  string         `yaml:"password"`
	TTL       *time.Duration `yaml:"ttl,omitempty"`
	Exec      Section        `yaml:"exec,omitempty"` // v3: credential helper
}

// Validation is manifest validation.
type Validation struct {
	Enabled   bool `yaml:"enabled,omitempty"` // deprecated
	Disabled  bool `yaml:"disabled,omitempty"`
	Manifests struct {
		URLs struct {
			Allow []string `yaml:"allow,omitempty"`
			Deny  []string `yaml:"deny,omitempty"`
		} `yaml:"urls,omitempty"`
		Indexes struct {
			Platforms    string    `yaml:"platforms"`
			PlatformList []Section `yaml:"platformlist,omitempty"`
		} `yaml:"indexes,omitempty"`
	} `yaml:"manifests,omitempty"`
}

// Parameters are a driver's or auth type's settings.
type Parameters map[string]any

// Storage maps the storage driver's name (exactly one) and the sections
// maintenance, cache, delete, redirect and (v3) tag to their parameters.
type Storage map[string]Parameters

// storageSections are the keys of storage that are not drivers.
var storageSections = map[string]bool{"maintenance": true, "cache": true, "delete": true, "redirect": true, "tag": true}

// Type is the storage driver's name, "" if none; more than one is an error.
func (s Storage) Type() (string, error) {
	var types []string
	for k := range s {
		if !storageSections[k] {
			types = append(types, k)
		}
	}
	switch len(types) {
	case 0:
		return "", nil
	case 1:
		return types[0], nil
	}
	sort.Strings(types)
	return "", fmt.Errorf("storage: exactly one storage driver, not %s", strings.Join(types, ", "))
}

// UnmarshalYAML accepts a map, or a driver's name alone (storage: inmemory).
func (s *Storage) UnmarshalYAML(unmarshal func(any) error) error {
	m, err := unmarshalTyped(unmarshal)
	if err != nil {
		return err
	}
	*s = Storage(m)
	_, err = s.Type()
	return err
}

// Auth maps the access controller's name (exactly one) to its parameters.
type Auth map[string]Parameters

// Type is the access controller's name, "" if none.
func (a Auth) Type() string {
	for k := range a {
		return k
	}
	return ""
}

// UnmarshalYAML accepts a one-entry map, or the type alone (auth: silly).
func (a *Auth) UnmarshalYAML(unmarshal func(any) error) error {
	m, err := unmarshalTyped(unmarshal)
	if err != nil {
		return err
	}
	if len(m) > 1 {
		var types []string
		for k := range m {
			types = append(types, k)
		}
		sort.Strings(types)
		return fmt.Errorf("auth: exactly one type, not %s", strings.Join(types, ", "))
	}
	*a = Auth(m)
	return nil
}

func unmarshalTyped(unmarshal func(any) error) (map[string]Parameters, error) {
	var m map[string]Parameters
	if err := unmarshal(&m); err == nil {
		return m, nil
	}
	var name string
	if err := unmarshal(&name); err != nil {
		return nil, fmt.Errorf("expected a map or a name: %v", err)
	}
	return map[string]Parameters{name: {}}, nil
}

// Decode parses a Distribution configuration file strictly: an unknown key
// or a version other than 0.1 is an error. The REGISTRY_* variables are
// applied separately (ApplyEnv).
func Decode(data []byte) (*Configuration, error) {
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("configuration larger than 1 MiB")
	}
	c := &Configuration{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, err
	}
	if c.Version != "0.1" {
		return nil, fmt.Errorf("version: %q is not a Distribution configuration version (0.1)", c.Version)
	}
	return c, nil
}

// IsDistribution reports whether a configuration file is Distribution's:
// its top-level version is 0.1 (Berth's own is an integer, 1).
func IsDistribution(data []byte) bool {
	var v struct {
		Version any `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		// The first line settles it even when the rest does not parse, so
		// that the error comes from the right decoder.
		for _, line := range bytes.Split(data, []byte("\n")) {
			if k, val, ok := strings.Cut(string(line), ":"); ok && strings.TrimSpace(k) == "version" {
				val, _, _ = strings.Cut(val, "#")
				return strings.Trim(strings.TrimSpace(val), `"'`) == "0.1"
			}
		}
		return false
	}
	return fmt.Sprint(v.Version) == "0.1"
}
