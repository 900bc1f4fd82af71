// Package harbor is a client of Harbor's pluggable scanner API v1.1/1.2
// (github.com/goharbor/pluggable-scanner-spec): GET /api/v1/metadata,
// POST /api/v1/scan, and GET /api/v1/scan/{id}/report polled while it
// answers 302 with Refresh-After, so the Trivy adapter and commercial
// adapters can scan Berth's images.
package harbor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/scan"
)

// Media types of the API.
const (
	MediaTypeScanRequest = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
	MediaTypeReport      = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.1"
)

// Sentinel errors.
var (
	// ErrAdapter: the adapter answered with an error.
	ErrAdapter = errors.New("harbor scanner: adapter error")
	// ErrUnknownScan: the adapter does not know the scan request.
	ErrUnknownScan = errors.New("harbor scanner: unknown scan request")
)

// Client talks to one scanner adapter.
type Client struct {
	base string
	auth string
	hc   *http.Client
	// MaxRefresh caps the wait between two polls of a report (default 30s).
	MaxRefresh time.Duration
}

// New returns a client of the adapter at base (e.g. http://trivy:8080);
// authorization, if not empty, is sent as each request's Authorization
// header (the adapter's own credential).
func New(base, authorization string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	// Reports are polled: a 302 is an answer, not a redirect to follow.
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: strings.TrimSuffix(base, "/"), auth: authorization, hc: &noRedirect, MaxRefresh: 30 * time.Second}
}

// ScannerInfo names an adapter's scanner.
type ScannerInfo struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// Capability is what an adapter consumes and produces.
type Capability struct {
	ConsumesMimeTypes []string `json:"consumes_mime_types"`
	ProducesMimeTypes []string `json:"produces_mime_types"`
}

// Metadata describes an adapter.
type Metadata struct {
	Scanner      ScannerInfo       `json:"scanner"`
	Capabilities []Capability      `json:"capabilities"`
	Properties   map[string]string `json:"properties,omitempty"`
}

// ScanRequest asks for a scan of one artifact, pulled from the registry
// with the given Authorization (a short-lived pull-only token).
type ScanRequest struct {
	Registry struct {
		URL           string `json:"url"`
		Authorization string `json:"authorization,omitempty"`
	} `json:"registry"`
	Artifact struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag,omitempty"`
		MimeType   string `json:"mime_type,omitempty"`
	} `json:"artifact"`
}

// Finding is a vulnerability in the adapter's report.
type Finding struct {
	ID          string   `json:"id"`
	Package     string   `json:"package"`
	Version     string   `json:"version"`
	FixVersion  string   `json:"fix_version"`
	Severity    string   `json:"severity"`
	Description string   `json:"description"`
	Links       []string `json:"links"`
	CVSS3Score  any      `json:"cve3_score"` // a string in the spec, a number in some adapters
	CVSS3Vector string   `json:"cvss3_vector"`
	Preferred   *struct {
		ScoreV3  float64 `json:"score_v3"`
		VectorV3 string  `json:"vector_v3"`
	} `json:"preferred_cvss"`
}

// Report is an adapter's report.
type Report struct {
	GeneratedAt     time.Time   `json:"generated_at"`
	Scanner         ScannerInfo `json:"scanner"`
	Severity        string      `json:"severity"`
	Vulnerabilities []Finding   `json:"vulnerabilities"`
}

func (c *Client) do(ctx context.Context, method, path, contentType, accept string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	return c.hc.Do(req)
}

// adapterError reads an error response ({"error":{"message"}}).
func adapterError(resp *http.Response) error {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("%w: %d: %s", ErrAdapter, resp.StatusCode, e.Error.Message)
	}
	return fmt.Errorf("%w: %d", ErrAdapter, resp.StatusCode)
}

// Metadata reads the adapter's metadata.
func (c *Client) Metadata(ctx context.Context) (*Metadata, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/metadata", "", "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, adapterError(resp)
	}
	var m Metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrAdapter, err)
	}
	return &m, nil
}

// Scan submits a scan request and returns its id.
func (c *Client) Scan(ctx context.Context, r ScanRequest) (string, error) {
	body, _ := json.Marshal(r)
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/scan", MediaTypeScanRequest, "", body)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return "", adapterError(resp)
	}
	var sr struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&sr); err != nil || sr.ID == "" {
		return "", fmt.Errorf("%w: scan response without an id", ErrAdapter)
	}
	return sr.ID, nil
}

// Report waits for a scan's report: while the adapter answers 302 it
// waits Refresh-After seconds (at most MaxRefresh; 1s when absent) and
// asks again, until the report comes, an error, or ctx ends.
func (c *Client) Report(ctx context.Context, id string) (*Report, error) {
	path := "/api/v1/scan/" + url.PathEscape(id) + "/report"
	for {
		resp, err := c.do(ctx, http.MethodGet, path, "", MediaTypeReport, nil)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			var r Report
			err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&r)
			resp.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("%w: report: %v", ErrAdapter, err)
			}
			return &r, nil
		case http.StatusFound:
			resp.Body.Close()
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Refresh-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
			t := time.NewTimer(min(wait, c.MaxRefresh))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		case http.StatusNotFound:
			resp.Body.Close()
			return nil, fmt.Errorf("%w: %s", ErrUnknownScan, id)
		default:
			err := adapterError(resp)
			resp.Body.Close()
			return nil, err
		}
	}
}

// Findings converts an adapter's report into findings, worst first.
func Findings(r *Report) []scan.Finding {
	out := make([]scan.Finding, 0, len(r.Vulnerabilities))
	for _, v := range r.Vulnerabilities {
		f := scan.Finding{ID: v.ID, Summary: v.Description, Package: v.Package, Installed: v.Version, Fixed: v.FixVersion,
			Severity: scan.ParseSeverity(v.Severity), CVSSVector: v.CVSS3Vector}
		if v.Severity == "Negligible" {
			f.Severity = scan.SeverityLow
		}
		switch s := v.CVSS3Score.(type) {
		case float64:
			f.CVSSScore = s
		case string:
			f.CVSSScore, _ = strconv.ParseFloat(s, 64)
		}
		if v.Preferred != nil && v.Preferred.ScoreV3 > 0 {
			f.CVSSScore, f.CVSSVector = v.Preferred.ScoreV3, v.Preferred.VectorV3
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return scan.Worse(out[i], out[j]) })
	return out
}
