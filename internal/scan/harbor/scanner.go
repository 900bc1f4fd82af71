package harbor

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scan"
)

// TokenFunc returns the Authorization value an adapter pulls one
// repository with: a short-lived, pull-only token ("" : none needed).
type TokenFunc func(ctx context.Context, repo string) (string, error)

// Scanner is an external scanner (scan.External) behind an adapter.
type Scanner struct {
	Client      *Client
	RegistryURL string        // where the adapter pulls from
	Token       TokenFunc     // its credential for the one repository
	Timeout     time.Duration // from request to report
}

// Scan implements scan.External: it asks the adapter to scan
// repo@digest, waits for the report and converts it.
func (s *Scanner) Scan(ctx context.Context, repo string, m *meta.Manifest) ([]scan.Finding, string, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	var req ScanRequest
	req.Registry.URL = s.RegistryURL
	if s.Token != nil {
		tok, err := s.Token(ctx, repo)
		if err != nil {
			return nil, "", err
		}
		req.Registry.Authorization = tok
	}
	req.Artifact.Repository, req.Artifact.Digest, req.Artifact.MimeType = repo, m.Digest.String(), m.MediaType
	id, err := s.Client.Scan(ctx, req)
	if err != nil {
		return nil, "", err
	}
	r, err := s.Client.Report(ctx, id)
	if err != nil {
		return nil, "", err
	}
	return Findings(r), r.Scanner.Name + " " + r.Scanner.Version, nil
}

// Describe implements scan.Describer: the adapter's metadata.
func (s *Scanner) Describe(ctx context.Context) (any, error) {
	return s.Client.Metadata(ctx)
}
