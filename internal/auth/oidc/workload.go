package oidc

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/berth-registry/berth/internal/auth"
)

// Workload verifies the OIDC tokens CI systems give their jobs (GitHub
// Actions, GitLab CI) for workload identity: signature by the issuer's
// published keys (discovered once per issuer, refetched on a new key id),
// issuer, audience and expiry. It implements auth.WorkloadVerifier.
type Workload struct {
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	providers map[string]*gooidc.Provider
}

var _ auth.WorkloadVerifier = (*Workload)(nil)

// NewWorkload returns a verifier; tr, if not nil, carries its requests
// (tests); now, if not nil, is its clock.
func NewWorkload(tr http.RoundTripper, now func() time.Time) *Workload {
	if now == nil {
		now = time.Now
	}
	return &Workload{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, now: now, providers: map[string]*gooidc.Provider{}}
}

func (w *Workload) provider(ctx context.Context, issuer string) (*gooidc.Provider, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.providers[issuer]; ok {
		return p, nil
	}
	p, err := gooidc.NewProvider(gooidc.ClientContext(context.WithoutCancel(ctx), w.client), issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: OIDC issuer %s: discovery: %v", auth.ErrUnavailable, issuer, err)
	}
	w.providers[issuer] = p
	return p, nil
}

// Verify checks a token of issuer for audience and returns its claims and
// expiry; errors wrap ErrRejected (a bad token) or auth.ErrUnavailable
// (the issuer cannot be reached).
func (w *Workload) Verify(ctx context.Context, issuer, audience, raw string) (map[string]any, time.Time, error) {
	p, err := w.provider(ctx, issuer)
	if err != nil {
		return nil, time.Time{}, err
	}
	t, err := p.Verifier(&gooidc.Config{ClientID: audience, Now: w.now}).Verify(gooidc.ClientContext(ctx, w.client), raw)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: claims: %v", ErrRejected, err)
	}
	return claims, t.Expiry, nil
}
