package scan

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// HarborReportMediaType is the report format of Harbor's pluggable
// scanner API (and of Harbor's own API).
const HarborReportMediaType = "application/vnd.security.vulnerability.report; version=1.1"

// HarborReport is a report in Harbor's format v1.1.
type HarborReport struct {
	GeneratedAt     time.Time       `json:"generated_at"`
	Artifact        HarborArtifact  `json:"artifact"`
	Scanner         HarborScanner   `json:"scanner"`
	Severity        string          `json:"severity"`
	Vulnerabilities []HarborFinding `json:"vulnerabilities"`
}

// HarborArtifact names the scanned artifact.
type HarborArtifact struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	MimeType   string        `json:"mime_type,omitempty"`
}

// HarborScanner names the scanner.
type HarborScanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// HarborFinding is one vulnerability in Harbor's format.
type HarborFinding struct {
	ID            string         `json:"id"`
	Package       string         `json:"package"`
	Version       string         `json:"version"`
	FixVersion    string         `json:"fix_version,omitempty"`
	Severity      string         `json:"severity"`
	Description   string         `json:"description,omitempty"`
	Links         []string       `json:"links,omitempty"`
	PreferredCVSS *HarborCVSS    `json:"preferred_cvss,omitempty"`
	CWEIDs        []string       `json:"cwe_ids"`
	VendorAttrs   map[string]any `json:"vendor_attributes,omitempty"`
}

// HarborCVSS is a finding's CVSS in Harbor's format.
type HarborCVSS struct {
	ScoreV3  float64 `json:"score_v3,omitempty"`
	VectorV3 string  `json:"vector_v3,omitempty"`
}

// harborSeverity names a severity as Harbor does.
func harborSeverity(s Severity) string {
	n := s.String()
	return strings.ToUpper(n[:1]) + n[1:]
}

// Harbor converts a result with its report into Harbor's format.
func Harbor(repo string, r *Result) HarborReport {
	h := HarborReport{GeneratedAt: r.ScannedAt, Artifact: HarborArtifact{Repository: repo, Digest: r.Digest, MimeType: r.MediaType},
		Scanner: HarborScanner{Name: "Berth", Vendor: "Berth", Version: r.DBVersion}, Severity: harborSeverity(r.Severity),
		Vulnerabilities: []HarborFinding{}}
	if r.Findings == 0 {
		h.Severity = "None"
	}
	if r.Report == nil {
		return h
	}
	for _, f := range r.Report.Findings {
		hf := HarborFinding{ID: f.ID, Package: f.Package, Version: f.Installed, FixVersion: f.Fixed, Severity: harborSeverity(f.Severity),
			Description: f.Summary, Links: []string{"https://osv.dev/vulnerability/" + f.ID}, CWEIDs: []string{}}
		if f.CVSSVector != "" {
			hf.PreferredCVSS = &HarborCVSS{ScoreV3: f.CVSSScore, VectorV3: f.CVSSVector}
		}
		if len(f.Aliases) > 0 || f.Layer != "" || f.VEX != "" {
			hf.VendorAttrs = map[string]any{}
			if len(f.Aliases) > 0 {
				hf.VendorAttrs["aliases"] = f.Aliases
			}
			if f.Layer != "" {
				hf.VendorAttrs["layer"] = f.Layer
			}
			if f.VEX != "" {
				hf.VendorAttrs["vex_status"] = f.VEX
			}
		}
		h.Vulnerabilities = append(h.Vulnerabilities, hf)
	}
	return h
}

// WriteCSV writes a report's findings as CSV, one row each, with a header.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "aliases", "severity", "cvss_score", "cvss_vector", "package", "ecosystem",
		"installed_version", "fixed_version", "platform", "layer", "path", "vex"})
	if r.Report != nil {
		for _, f := range r.Report.Findings {
			score := ""
			if f.CVSSScore > 0 {
				score = strconv.FormatFloat(f.CVSSScore, 'f', 1, 64)
			}
			cw.Write([]string{csvSafe(f.ID), csvSafe(strings.Join(f.Aliases, " ")), f.Severity.String(), score, csvSafe(f.CVSSVector),
				csvSafe(f.Package), csvSafe(f.Ecosystem), csvSafe(f.Installed), csvSafe(f.Fixed), f.Platform, f.Layer.String(), csvSafe(f.Path), f.VEX})
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses cells a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
