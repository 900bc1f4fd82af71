package config

import (
	"strings"
	"time"
)

// Scan configures vulnerability scanning (docs/scanning.md).
type Scan struct {
	Enabled bool `yaml:"enabled"`
	// Database names where the OSV vulnerability database artifact is
	// read from: a repository of this registry (a local one filled by
	// `berth vulndb import`, or a proxied one) and its tag.
	Database ScanDatabase `yaml:"database"`
	// Workers scan queued images (on push, on demand) at once.
	Workers int `yaml:"workers"`
	// Queue bounds the images waiting for a worker.
	Queue int `yaml:"queue"`
	// Concurrency caps the scans "scan all" and rescans run at once.
	Concurrency int `yaml:"concurrency"`
	// TempDir holds the files extracted from one image while it is
	// scanned ("" : the system's), within MaxTempBytes per image.
	TempDir      string   `yaml:"temp_dir"`
	MaxTempBytes ByteSize `yaml:"max_temp_bytes"`
	// Scanners are external scanners speaking Harbor's pluggable scanner
	// API; a project's policy may pick one by name instead of the
	// built-in scanner.
	Scanners []ScanScanner `yaml:"scanners"`
	// RegistryURL is the base URL external scanners pull images from
	// (this registry as they reach it), e.g. http://berth:5000.
	RegistryURL string `yaml:"registry_url"`
	// ScannerTimeout bounds one external scan, from request to report.
	ScannerTimeout time.Duration `yaml:"scanner_timeout"`
}

// ScanScanner is an external scanner adapter.
type ScanScanner struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Authorization is sent as the Authorization header of each request
	// to the adapter (e.g. "Bearer KEY"), if set.
	Authorization string `yaml:"authorization"`
}

// ScanDatabase locates the vulnerability database.
type ScanDatabase struct {
	Repository string `yaml:"repository"`
	Tag        string `yaml:"tag"`
	// Poll is how often each instance looks for a newer version.
	Poll time.Duration `yaml:"poll"`
	// MaxAge: an older database is reported stale (API, metrics, log).
	MaxAge time.Duration `yaml:"max_age"`
}

// DefaultVulnDBRepository is scan.database.repository's default.
const DefaultVulnDBRepository = "vulndb/osv"

func defaultScan() Scan {
	return Scan{Enabled: true, Workers: 2, Queue: 1000, Concurrency: 2, MaxTempBytes: 512 << 20, ScannerTimeout: 10 * time.Minute,
		Database: ScanDatabase{Repository: DefaultVulnDBRepository, Tag: "latest", Poll: time.Minute, MaxAge: 7 * 24 * time.Hour}}
}

func (s Scan) validate(bad func(string, ...any)) {
	if !s.Enabled {
		return
	}
	if s.Database.Repository == "" || strings.Contains(s.Database.Repository, ":") {
		bad("scan.database.repository: %q must be a repository name", s.Database.Repository)
	}
	if s.Database.Tag == "" {
		bad("scan.database.tag: must not be empty")
	}
	if s.Database.Poll < time.Second {
		bad("scan.database.poll: %v is under 1s", s.Database.Poll)
	}
	if s.Database.MaxAge < 0 {
		bad("scan.database.max_age: must not be negative")
	}
	if s.Workers < 1 || s.Workers > 64 {
		bad("scan.workers: %d is outside 1..64", s.Workers)
	}
	if s.Queue < 1 {
		bad("scan.queue: %d must be at least 1", s.Queue)
	}
	if s.Concurrency < 1 || s.Concurrency > 64 {
		bad("scan.concurrency: %d is outside 1..64", s.Concurrency)
	}
	names := map[string]bool{"builtin": true}
	for i, sc := range s.Scanners {
		if sc.Name == "" || names[sc.Name] {
			bad("scan.scanners[%d].name: %q is empty, builtin or repeated", i, sc.Name)
		}
		names[sc.Name] = true
		if !strings.HasPrefix(sc.URL, "http://") && !strings.HasPrefix(sc.URL, "https://") {
			bad("scan.scanners[%d].url: %q is not an http(s) URL", i, sc.URL)
		}
	}
	if len(s.Scanners) > 0 && !strings.HasPrefix(s.RegistryURL, "http://") && !strings.HasPrefix(s.RegistryURL, "https://") {
		bad("scan.registry_url: external scanners need the http(s) URL they reach this registry at")
	}
	if s.ScannerTimeout < time.Second {
		bad("scan.scanner_timeout: %v is under 1s", s.ScannerTimeout)
	}
	if s.MaxTempBytes < 1<<20 {
		bad("scan.max_temp_bytes: %d is under 1 MiB", s.MaxTempBytes)
	}
}
