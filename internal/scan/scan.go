// Package scan finds known vulnerabilities in stored images: it extracts
// an image's packages (builtin/), keeps the list per manifest digest in
// the metadata store, matches it against an OSV vulnerability database
// loaded from an OCI artifact (vulndb/), stores the result per manifest
// with a summary, and refuses pulls that a project's policy forbids (the
// pull gate, gate.go). The API and the web UI call Service.
package scan

import (
	"strings"

	"github.com/opencontainers/go-digest"
)

// Package is one installed package found in an image.
type Package struct {
	// Ecosystem is the OSV ecosystem, with its release suffix for
	// distributions ("Debian:12", "Alpine:v3.20", "npm", "Go", "PyPI").
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	// SourceName and SourceVersion are what OSV advisories name when they
	// differ from the binary package (dpkg source, apk origin, rpm source).
	SourceName    string        `json:"source_name,omitempty"`
	SourceVersion string        `json:"source_version,omitempty"`
	PURL          string        `json:"purl,omitempty"`
	Licenses      []string      `json:"licenses,omitempty"`
	Path          string        `json:"path,omitempty"`  // the file it was found in
	Layer         digest.Digest `json:"layer,omitempty"` // the layer that file came from
}

// MatchName is the name advisories use for the package.
func (p Package) MatchName() string {
	if p.SourceName != "" {
		return p.SourceName
	}
	return p.Name
}

// MatchVersion is the version advisories are compared with.
func (p Package) MatchVersion() string {
	if p.SourceName != "" && p.SourceVersion != "" {
		return p.SourceVersion
	}
	return p.Version
}

// Severity ranks findings; the zero value is unknown.
type Severity int

// Severities, in increasing order.
const (
	SeverityUnknown Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = []string{"unknown", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name (any case; "moderate" is medium,
// "important" high); anything else is unknown.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low", "negligible":
		return SeverityLow
	case "medium", "moderate":
		return SeverityMedium
	case "high", "important":
		return SeverityHigh
	case "critical":
		return SeverityCritical
	}
	return SeverityUnknown
}

// SeverityOfScore is the CVSS v3 qualitative rating of a base score.
func SeverityOfScore(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityUnknown
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	*s = ParseSeverity(string(b))
	return nil
}

// Finding is one vulnerability of one package of an image.
type Finding struct {
	ID         string        `json:"id"`
	Aliases    []string      `json:"aliases,omitempty"`
	Summary    string        `json:"summary,omitempty"`
	Package    string        `json:"package"`
	Ecosystem  string        `json:"ecosystem"`
	Installed  string        `json:"installed_version"`
	Fixed      string        `json:"fixed_version,omitempty"`
	Severity   Severity      `json:"severity"`
	CVSSScore  float64       `json:"cvss_score,omitempty"`
	CVSSVector string        `json:"cvss_vector,omitempty"`
	Layer      digest.Digest `json:"layer,omitempty"`
	Path       string        `json:"path,omitempty"`
	// Platform names the index child the finding comes from ("linux/arm64").
	Platform string `json:"platform,omitempty"`
	// VEX is the status a VEX statement gave the finding ("not_affected",
	// "fixed"); such findings are reported but ignored by the gate.
	VEX string `json:"vex,omitempty"`
}

// Names is the finding's id and aliases.
func (f Finding) Names() []string { return append([]string{f.ID}, f.Aliases...) }

// Worse reports whether a ranks above b: severity, then CVSS score, then id.
func Worse(a, b Finding) bool {
	if a.Severity != b.Severity {
		return a.Severity > b.Severity
	}
	if a.CVSSScore != b.CVSSScore {
		return a.CVSSScore > b.CVSSScore
	}
	return a.ID < b.ID
}
