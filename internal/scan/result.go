package scan

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Scan statuses.
const (
	StatusSuccess = "success"
	StatusFailed  = "failed"
)

// ScannerBuiltin names the built-in scanner in results.
const ScannerBuiltin = "builtin"

// gateFinding is what the stored summary keeps of each finding: enough
// for the gate to apply thresholds, allowlists and VEX in memory.
type gateFinding struct {
	ID       string   `json:"i"`
	Aliases  []string `json:"a,omitempty"`
	Severity Severity `json:"s"`
	CVSS     float64  `json:"c,omitempty"`
	Package  string   `json:"p"`
	Version  string   `json:"v"`
	Fixed    string   `json:"f,omitempty"`
	VEX      string   `json:"x,omitempty"`
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return Worse(fs[i], fs[j]) })
}

// record turns a scan's outcome into the stored result.
func (s *Service) record(dgst digest.Digest, scanner, version string, rep *Report, err error) meta.ScanResult {
	r := meta.ScanResult{Digest: dgst, Scanner: scanner, DBVersion: version, Status: StatusSuccess, ScannedAt: time.Now().UTC()}
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
	}
	if rep == nil {
		rep = &Report{}
	}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	sum := make([]gateFinding, 0, len(rep.Findings))
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		k := f.ID + "\x00" + f.Package + "\x00" + f.Installed
		if seen[k] {
			continue // the same finding on several platforms
		}
		seen[k] = true
		sum = append(sum, gateFinding{ID: f.ID, Aliases: f.Aliases, Severity: f.Severity, CVSS: f.CVSSScore,
			Package: f.Package, Version: f.Installed, Fixed: f.Fixed, VEX: f.VEX})
		if f.VEX != "" {
			continue
		}
		r.Findings++
		if r.Worst == "" {
			r.Worst, r.Severity = f.ID, int(f.Severity)
		}
		r.MaxCVSS = max(r.MaxCVSS, f.CVSSScore)
	}
	r.Summary, _ = json.Marshal(sum)
	r.Report, _ = json.Marshal(rep)
	return r
}

// toResult turns a stored result into the API's.
func toResult(r meta.ScanResult) Result {
	out := Result{Digest: r.Digest, Scanner: r.Scanner, DBVersion: r.DBVersion, Status: r.Status, Severity: Severity(r.Severity),
		MaxCVSS: r.MaxCVSS, Worst: r.Worst, Findings: r.Findings, ScannedAt: r.ScannedAt, Error: r.Error, Counts: map[string]int{}}
	var sum []gateFinding
	if json.Unmarshal(r.Summary, &sum) == nil {
		for _, f := range sum {
			if f.VEX == "" {
				out.Counts[f.Severity.String()]++
			}
		}
	}
	if len(r.Report) > 0 {
		var rep Report
		if json.Unmarshal(r.Report, &rep) == nil {
			out.Report = &rep
		}
	}
	return out
}

// Result returns the stored result of repo@ref, with its full report
// when report is true.
func (s *Service) Result(ctx context.Context, repo, ref string, report bool) (*Result, error) {
	m, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	r, err := s.store.GetScanResult(ctx, m.Digest, report)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, ErrNotScanned
		}
		return nil, err
	}
	res := toResult(r)
	res.MediaType = m.MediaType
	return &res, nil
}

// ErrQueueFull: the scan queue is full; try again later.
var ErrQueueFull = errors.New("scan: the scan queue is full")

// Request asks for a scan of repo@ref: done now when wait is set (the
// result is returned), else queued for a worker (nil result).
func (s *Service) Request(ctx context.Context, repo, ref string, wait bool) (*Result, error) {
	m, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	if !scannable(m) {
		return nil, ErrNotScannable
	}
	p, err := s.effectivePolicy(ctx, projectOf(repo))
	if err != nil {
		return nil, err
	}
	if _, err := s.scanner(p.Scanner); err != nil {
		return nil, err
	}
	if wait {
		return s.Scan(ctx, repo, m.Digest)
	}
	if !s.Enqueue(repo, m.Digest) {
		return nil, ErrQueueFull
	}
	return nil, nil
}
