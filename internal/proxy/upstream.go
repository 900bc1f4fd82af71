package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/registry"
)

// client talks to one upstream registry through go-containerregistry:
// its transport does the ping, the Basic or Bearer (token service) flow,
// token refresh, and the http/https choice; remote fetches manifests.
type client struct {
	name string
	reg  name.Registry
	auth authn.Authenticator
	base http.RoundTripper
	// dockerHub: single-component names get the implicit "library/".
	dockerHub bool
	timeout   time.Duration

	mu         sync.Mutex
	transports map[string]http.RoundTripper // by remote repository, authenticated for pull
	flight     singleflight.Group
}

// maxTransports bounds the per-repository transport cache.
const maxTransports = 1024

func newClient(u config.Upstream) (*client, error) {
	pu, err := url.Parse(u.URL)
	if err != nil {
		return nil, err
	}
	var opts []name.Option
	if pu.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(pu.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: u.Insecure} //nolint:gosec // the operator asked for it
	if u.CAFile != "" {
		pem, err := os.ReadFile(u.CAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: ca_file: %w", u.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream %s: ca_file %s holds no PEM certificate", u.Name, u.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: min(u.Timeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   min(u.Timeout, 10*time.Second),
		ResponseHeaderTimeout: u.Timeout,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	var auth authn.Authenticator = authn.Anonymous
	switch {
	case u.Token != "":
		auth = authn.FromConfig(authn.AuthConfig{RegistryToken: u.Token})
	case u.Username != "":
		auth = &authn.Basic{Username: u.Username, Password: u.Password}
	}
	host := reg.RegistryStr()
	return &client{
		name: u.Name, reg: reg, auth: auth, base: base, timeout: u.Timeout,
		dockerHub:  host == name.DefaultRegistry || host == "docker.io" || host == "registry-1.docker.io",
		transports: map[string]http.RoundTripper{},
	}, nil
}

// remoteName is the repository's name at the upstream.
func (c *client) remoteName(repo string) string {
	if c.dockerHub && !strings.Contains(repo, "/") {
		return "library/" + repo
	}
	return repo
}

// transport returns a transport authenticated to pull repo, made once per
// repository (concurrent callers share the handshake).
func (c *client) transport(ctx context.Context, repo string) (http.RoundTripper, error) {
	c.mu.Lock()
	t, ok := c.transports[repo]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	v, err, _ := c.flight.Do(repo, func() (any, error) {
		// The handshake outlives the first caller: others may share it.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		scope := c.reg.Repo(repo).Scope(transport.PullScope)
		t, err := transport.NewWithContext(hctx, c.reg, c.auth, c.base, []string{scope})
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if len(c.transports) >= maxTransports {
			clear(c.transports)
		}
		c.transports[repo] = t
		c.mu.Unlock()
		return t, nil
	})
	if err != nil {
		return nil, c.wrap(err, "")
	}
	return v.(http.RoundTripper), nil
}

// forget drops a repository's transport (after the upstream refused it).
func (c *client) forget(repo string) {
	c.mu.Lock()
	delete(c.transports, repo)
	c.mu.Unlock()
}

func (c *client) ref(repo, ref string) (name.Reference, error) {
	r := c.reg.Repo(repo)
	if strings.Contains(ref, ":") {
		return r.Digest(ref), nil
	}
	return r.Tag(ref), nil
}

// headManifest asks the upstream which digest ref has (cheap: no body).
func (c *client) headManifest(ctx context.Context, repo, ref string) (digest.Digest, error) {
	t, err := c.transport(ctx, repo)
	if err != nil {
		return "", err
	}
	r, err := c.ref(repo, ref)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d, err := remote.Head(r, remote.WithTransport(t), remote.WithContext(ctx))
	if err != nil {
		return "", c.wrap(err, repo)
	}
	return digest.Digest(d.Digest.String()), nil
}

// getManifest fetches a manifest's exact bytes and media type. A digest
// reference is verified against the bytes (by remote).
func (c *client) getManifest(ctx context.Context, repo, ref string) ([]byte, string, error) {
	t, err := c.transport(ctx, repo)
	if err != nil {
		return nil, "", err
	}
	r, err := c.ref(repo, ref)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d, err := remote.Get(r, remote.WithTransport(t), remote.WithContext(ctx))
	if err != nil {
		return nil, "", c.wrap(err, repo)
	}
	return d.Manifest, string(d.MediaType), nil
}

// listTags lists every tag of a repository (all pages).
func (c *client) listTags(ctx context.Context, repo string) ([]string, error) {
	t, err := c.transport(ctx, repo)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tags, err := remote.List(c.reg.Repo(repo), remote.WithTransport(t), remote.WithContext(ctx))
	if err != nil {
		return nil, c.wrap(err, repo)
	}
	return tags, nil
}

// blobURL is the upstream URL of a blob; the transport fixes the scheme.
func (c *client) blobURL(repo string, dgst digest.Digest) string {
	return c.reg.Scheme() + "://" + c.reg.RegistryStr() + "/v2/" + repo + "/blobs/" + dgst.String()
}

// headBlob returns a blob's size at the upstream.
func (c *client) headBlob(ctx context.Context, repo string, dgst digest.Digest) (int64, error) {
	resp, err := c.blobRequest(ctx, http.MethodHead, repo, dgst)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.ContentLength < 0 {
		return 0, fmt.Errorf("%w: upstream %s: HEAD %s had no Content-Length", registry.ErrUpstreamUnavailable, c.name, dgst)
	}
	return resp.ContentLength, nil
}

// getBlob starts downloading a blob; the caller reads and closes the body.
// Redirects (to object storage) are followed by the client.
func (c *client) getBlob(ctx context.Context, repo string, dgst digest.Digest) (*http.Response, error) {
	return c.blobRequest(ctx, http.MethodGet, repo, dgst)
}

func (c *client) blobRequest(ctx context.Context, method, repo string, dgst digest.Digest) (*http.Response, error) {
	t, err := c.transport(ctx, repo)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.blobURL(repo, dgst), nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return nil, c.wrap(err, repo)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, c.wrap(err, repo)
	}
	return resp, nil
}

// errNotFound: the upstream does not have it (404 or a *_UNKNOWN code).
var errNotFound = errors.New("not found at the upstream")

// wrap classifies an upstream failure: not found, rate limited, or
// unavailable, each naming the upstream and the cause.
func (c *client) wrap(err error, repo string) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: upstream %s: %v", errNotFound, c.name, shortError(te))
		case te.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("%w: upstream %s answered 429 Too Many Requests", registry.ErrUpstreamRateLimited, c.name)
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			if repo != "" {
				c.forget(repo) // a new handshake next time
			}
			return fmt.Errorf("%w: upstream %s refused access (%d): check its credentials in proxy.upstreams",
				registry.ErrUpstreamUnavailable, c.name, te.StatusCode)
		default:
			return fmt.Errorf("%w: upstream %s answered %d %s", registry.ErrUpstreamUnavailable, c.name,
				te.StatusCode, http.StatusText(te.StatusCode))
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is known; keep the cause
	}
	return fmt.Errorf("%w: upstream %s: %v", registry.ErrUpstreamUnavailable, c.name, err)
}

// shortError is a transport error's first diagnostic, or its status.
func shortError(te *transport.Error) string {
	if len(te.Errors) > 0 {
		d := te.Errors[0]
		if d.Message != "" {
			return string(d.Code) + ": " + d.Message
		}
		return string(d.Code)
	}
	return http.StatusText(te.StatusCode)
}
