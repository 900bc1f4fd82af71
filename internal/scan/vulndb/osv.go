// Package vulndb is the vulnerability database of the built-in scanner:
// OSV advisories (https://ossf.github.io/osv-schema/), packaged as an OCI
// artifact with one layer per ecosystem, loaded into an in-memory index
// and matched against package lists with each ecosystem's own version
// order (osv-scalibr's semantic package: dpkg, apk, rpm, semver, PEP 440,
// Maven, RubyGems...).
package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/scan"
)

// ErrInvalid: an advisory is not valid OSV.
var ErrInvalid = errors.New("vulndb: invalid OSV advisory")

// Advisory is the part of an OSV advisory the scanner needs.
type Advisory struct {
	ID         string
	Aliases    []string
	Summary    string
	Severity   scan.Severity
	CVSSScore  float64
	CVSSVector string
	Affected   []Affected
}

// Affected is one affected package of an advisory.
type Affected struct {
	Ecosystem string // with its suffix, e.g. "Debian:12"
	Name      string
	Versions  []string // affected versions, listed
	Ranges    []Range  // ECOSYSTEM and SEMVER ranges (GIT ranges are left out)
}

// Range is a list of events, sorted in the ecosystem's version order
// when indexed.
type Range []Event

// Event is a point of a range where the affected state changes.
type Event struct {
	Kind    EventKind
	Version string
}

// EventKind says how an event changes the affected state.
type EventKind uint8

// Event kinds of OSV ranges.
const (
	Introduced EventKind = iota
	Fixed
	LastAffected
	Limit
)

// osvJSON mirrors the fields read from an OSV document.
type osvJSON struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases"`
	Summary   string   `json:"summary"`
	Withdrawn string   `json:"withdrawn"`
	Severity  []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Severity []struct {
			Type  string `json:"type"`
			Score string `json:"score"`
		} `json:"severity"`
		Ranges []struct {
			Type   string `json:"type"`
			Events []struct {
				Introduced   string `json:"introduced"`
				Fixed        string `json:"fixed"`
				LastAffected string `json:"last_affected"`
				Limit        string `json:"limit"`
			} `json:"events"`
		} `json:"ranges"`
		Versions          []string        `json:"versions"`
		EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	} `json:"affected"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

// Decode reads one OSV advisory. Withdrawn advisories decode with no
// affected packages.
func Decode(data []byte) (Advisory, error) {
	var o osvJSON
	if err := json.Unmarshal(data, &o); err != nil {
		return Advisory{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if o.ID == "" {
		return Advisory{}, fmt.Errorf("%w: no id", ErrInvalid)
	}
	a := Advisory{ID: o.ID, Aliases: o.Aliases, Summary: o.Summary}
	for _, s := range o.Severity {
		a.addSeverity(s.Type, s.Score)
	}
	a.addSpecific(o.DatabaseSpecific)
	if o.Withdrawn != "" {
		return a, nil
	}
	for _, af := range o.Affected {
		if af.Package.Ecosystem == "" || af.Package.Name == "" {
			continue
		}
		for _, s := range af.Severity {
			a.addSeverity(s.Type, s.Score)
		}
		a.addSpecific(af.EcosystemSpecific)
		x := Affected{Ecosystem: af.Package.Ecosystem, Name: af.Package.Name, Versions: af.Versions}
		for _, r := range af.Ranges {
			if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
				continue
			}
			var rg Range
			for _, e := range r.Events {
				switch {
				case e.Introduced != "":
					rg = append(rg, Event{Introduced, e.Introduced})
				case e.Fixed != "":
					rg = append(rg, Event{Fixed, e.Fixed})
				case e.LastAffected != "":
					rg = append(rg, Event{LastAffected, e.LastAffected})
				case e.Limit != "":
					rg = append(rg, Event{Limit, e.Limit})
				}
			}
			if len(rg) > 0 {
				x.Ranges = append(x.Ranges, rg)
			}
		}
		if len(x.Ranges) > 0 || len(x.Versions) > 0 {
			a.Affected = append(a.Affected, x)
		}
	}
	return a, nil
}

// addSeverity takes the highest CVSS score of the advisory (v3 vectors
// are scored; v2 and v4 vectors are kept when nothing better is known).
func (a *Advisory) addSeverity(typ, score string) {
	switch typ {
	case "CVSS_V3":
		s, err := CVSS3Score(score)
		if err != nil {
			return
		}
		if s > a.CVSSScore || a.CVSSVector == "" {
			a.CVSSScore, a.CVSSVector = s, score
		}
		if sev := scan.SeverityOfScore(s); sev > a.Severity {
			a.Severity = sev
		}
	case "CVSS_V2", "CVSS_V4":
		if a.CVSSVector == "" {
			a.CVSSVector = score
		}
	case "Ubuntu":
		if sev := scan.ParseSeverity(score); sev > a.Severity {
			a.Severity = sev
		}
	}
}

// addSpecific reads a "severity" field of database_specific or
// ecosystem_specific (GitHub: "HIGH", "MODERATE").
func (a *Advisory) addSpecific(raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	var v struct {
		Severity json.RawMessage `json:"severity"`
	}
	if json.Unmarshal(raw, &v) != nil || len(v.Severity) == 0 {
		return
	}
	var s string
	if json.Unmarshal(v.Severity, &s) != nil {
		return
	}
	if sev := scan.ParseSeverity(s); sev > a.Severity {
		a.Severity = sev
	}
}

// baseEcosystem is an ecosystem without its suffix ("Debian:12" → "Debian").
func baseEcosystem(eco string) (base, suffix string) {
	base, suffix, _ = strings.Cut(eco, ":")
	return base, suffix
}
