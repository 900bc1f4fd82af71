package replication

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// remote is a registry reached over the Distribution API. The transport of
// go-containerregistry does the /v2/ ping and the Basic or Bearer (token
// service) authentication with scoped tokens; the requests themselves are
// plain HTTP, so manifests keep their exact bytes and blobs stream from
// one registry's response body into the other's request body.
type remote struct {
	name      string
	reg       name.Registry
	auth      authn.Authenticator
	base      http.RoundTripper
	dockerHub bool
	timeout   time.Duration

	mu         sync.Mutex
	transports map[string]http.RoundTripper // by scope
}

// manifestAccept lists every manifest type the copy keeps.
var manifestAccept = strings.Join([]string{
	v1.MediaTypeImageIndex, v1.MediaTypeImageManifest,
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// newRemote builds the client of a registered registry.
func newRemote(r *Registry, timeout time.Duration) (*remote, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %v", ErrInvalid, err)
	}
	var opts []name.Option
	if u.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(u.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %v", ErrInvalid, err)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: r.Insecure} //nolint:gosec // the administrator asked for it
	if r.CACert != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(r.CACert)) {
			return nil, fmt.Errorf("%w: ca_cert holds no PEM certificate", ErrInvalid)
		}
		tlsConf.RootCAs = pool
	}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	var auth authn.Authenticator = authn.Anonymous
	switch {
	case r.Token != "":
		auth = authn.FromConfig(authn.AuthConfig{RegistryToken: r.Token})
	case r.Username != "":
		auth = &authn.Basic{Username: r.Username, Password: r.Password}
	}
	host := reg.RegistryStr()
	return &remote{name: r.Name, reg: reg, auth: auth, base: base, timeout: timeout,
		dockerHub:  r.Type == TypeDockerHub || host == name.DefaultRegistry || host == "registry-1.docker.io",
		transports: map[string]http.RoundTripper{}}, nil
}

// maxTransports bounds the cache of authenticated transports.
const maxTransports = 1024

// transport returns an authenticated transport for scopes (cached).
func (c *remote) transport(ctx context.Context, scopes ...string) (http.RoundTripper, error) {
	key := strings.Join(scopes, " ")
	c.mu.Lock()
	t := c.transports[key]
	c.mu.Unlock()
	if t != nil {
		return t, nil
	}
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	t, err := transport.NewWithContext(pctx, c.reg, c.auth, c.base, scopes)
	if err != nil {
		return nil, c.wrap(err)
	}
	c.mu.Lock()
	if len(c.transports) >= maxTransports {
		clear(c.transports)
	}
	c.transports[key] = t
	c.mu.Unlock()
	return t, nil
}

// repoName applies Docker Hub's implicit "library/".
func (c *remote) repoName(repo string) string {
	if c.dockerHub && !strings.Contains(repo, "/") {
		return "library/" + repo
	}
	return repo
}

func pullScope(repo string) string { return "repository:" + repo + ":pull" }
func pushScope(repo string) string { return "repository:" + repo + ":pull,push" }

// do sends one request with the transport for scopes and checks its status
// against ok; the caller closes the body of a successful response.
func (c *remote) do(ctx context.Context, method, path string, body io.Reader, size int64, hdr http.Header, scopes []string, ok ...int) (*http.Response, error) {
	t, err := c.transport(ctx, scopes...)
	if err != nil {
		return nil, err
	}
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.reg.Scheme() + "://" + c.reg.RegistryStr() + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return nil, c.wrap(err)
	}
	if err := transport.CheckError(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, c.wrap(err)
	}
	return resp, nil
}

// wrap names the registry in an error and maps 404 to ErrNotFound.
func (c *remote) wrap(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: registry %s: %v", ErrNotFound, c.name, te)
		}
		if te.StatusCode == http.StatusMethodNotAllowed || (len(te.Errors) > 0 && te.Errors[0].Code == transport.UnsupportedErrorCode) {
			return fmt.Errorf("%w: registry %s: %v", ErrUnsupported, c.name, te)
		}
		return fmt.Errorf("registry %s: %w", c.name, te)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("registry %s: %w", c.name, err)
}

// Ping checks that the registry answers and accepts the credentials.
func (c *remote) Ping(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/v2/", nil, 0, nil, nil, http.StatusOK)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// list reads every page of a listing (tags or catalog) following Link.
func (c *remote) list(ctx context.Context, path, field string, scopes []string) ([]string, error) {
	var out []string
	next := path + "?n=1000"
	for pages := 0; next != "" && pages < 10000; pages++ {
		resp, err := c.do(ctx, http.MethodGet, next, nil, 0, nil, scopes, http.StatusOK)
		if err != nil {
			return nil, err
		}
		var page map[string]json.RawMessage
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("registry %s: %s: %w", c.name, path, err)
		}
		var items []string
		if raw := page[field]; len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &items); err != nil {
				return nil, fmt.Errorf("registry %s: %s: %w", c.name, path, err)
			}
		}
		out = append(out, items...)
		next = nextLink(resp.Header.Get("Link"))
	}
	return out, nil
}

// nextLink returns the target of a Link header's rel="next" ("" if none).
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		target = strings.TrimSpace(target)
		if strings.HasPrefix(target, "<") && strings.HasSuffix(target, ">") {
			return target[1 : len(target)-1]
		}
	}
	return ""
}

func (c *remote) Repositories(ctx context.Context) ([]string, error) {
	repos, err := c.list(ctx, "/v2/_catalog", "repositories", []string{"registry:catalog:*"})
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: registry %s has no catalog: name the repositories without wildcards", ErrUnsupported, c.name)
	}
	return repos, err
}

func (c *remote) Tags(ctx context.Context, repo string) ([]string, error) {
	repo = c.repoName(repo)
	tags, err := c.list(ctx, "/v2/"+repo+"/tags/list", "tags", []string{pullScope(repo)})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return tags, err
}

func (c *remote) Manifest(ctx context.Context, repo, ref string) (Manifest, error) {
	repo = c.repoName(repo)
	resp, err := c.do(ctx, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, nil, 0,
		http.Header{"Accept": {manifestAccept}}, []string{pullScope(repo)}, http.StatusOK)
	if err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return Manifest{}, c.wrap(err)
	}
	if len(body) > maxManifest {
		return Manifest{}, fmt.Errorf("registry %s: manifest %s:%s is over %d bytes", c.name, repo, ref, maxManifest)
	}
	m := Manifest{MediaType: mediaType(resp.Header.Get("Content-Type"), body), Digest: digest.FromBytes(body), Content: body}
	if d, err := digest.Parse(ref); err == nil { // verify what a digest names
		m.Digest = d.Algorithm().FromBytes(body)
		if m.Digest != d {
			return Manifest{}, fmt.Errorf("registry %s: manifest %s has digest %s", c.name, d, m.Digest)
		}
	}
	return m, nil
}

// maxManifest bounds a manifest read from a remote registry.
const maxManifest = 4 << 20

// mediaType is the Content-Type without parameters, or the body's own
// mediaType field when the registry sent none useful.
func mediaType(ct string, body []byte) string {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	if mt != "" && mt != "application/json" && mt != "application/octet-stream" && mt != "text/plain" {
		return mt
	}
	var doc struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.MediaType != "" {
		return doc.MediaType
	}
	return mt
}

func (c *remote) ManifestDigest(ctx context.Context, repo, ref string) (digest.Digest, error) {
	repo = c.repoName(repo)
	resp, err := c.do(ctx, http.MethodHead, "/v2/"+repo+"/manifests/"+ref, nil, 0,
		http.Header{"Accept": {manifestAccept}}, []string{pullScope(repo)}, http.StatusOK)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest")); err == nil {
		return d, nil
	}
	m, err := c.Manifest(ctx, repo, ref) // no digest header: hash the body
	return m.Digest, err
}

func (c *remote) PutManifest(ctx context.Context, repo, ref string, m Manifest) (bool, error) {
	repo = c.repoName(repo)
	resp, err := c.do(ctx, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, bytes.NewReader(m.Content), int64(len(m.Content)),
		http.Header{"Content-Type": {m.MediaType}}, []string{pushScope(repo)}, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.Header.Get("OCI-Subject") != "", nil
}

func (c *remote) DeleteManifest(ctx context.Context, repo, ref string) error {
	repo = c.repoName(repo)
	resp, err := c.do(ctx, http.MethodDelete, "/v2/"+repo+"/manifests/"+ref, nil, 0, nil,
		[]string{"repository:" + repo + ":delete,pull,push"}, http.StatusAccepted, http.StatusOK, http.StatusNoContent)
	if err != nil {
		if _, derr := digest.Parse(ref); derr != nil && !errors.Is(err, ErrNotFound) {
			// Distribution 2.8 answers a tag deletion 400 or 405 UNSUPPORTED.
			var te *transport.Error
			if errors.As(err, &te) && te.StatusCode == http.StatusBadRequest {
				return fmt.Errorf("%w: %v", ErrUnsupported, err)
			}
		}
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *remote) HasBlob(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	repo = c.repoName(repo)
	resp, err := c.do(ctx, http.MethodHead, "/v2/"+repo+"/blobs/"+d.String(), nil, 0, nil, []string{pullScope(repo)}, http.StatusOK)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

func (c *remote) OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	repo = c.repoName(repo)
	resp, err := c.do(ctx, http.MethodGet, "/v2/"+repo+"/blobs/"+d.String(), nil, 0, nil, []string{pullScope(repo)}, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// startUpload opens an upload session (or mounts, with query) and returns
// the response.
func (c *remote) startUpload(ctx context.Context, repo, query string, scopes []string) (*http.Response, error) {
	return c.do(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/"+query, nil, 0, nil, scopes, http.StatusAccepted, http.StatusCreated)
}

func (c *remote) PutBlob(ctx context.Context, repo string, d digest.Digest, size int64, r io.Reader) error {
	repo = c.repoName(repo)
	resp, err := c.startUpload(ctx, repo, "", []string{pushScope(repo)})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return c.finishUpload(ctx, repo, resp, d, size, r)
}

// finishUpload sends the whole blob with the closing PUT of the session
// resp started (one request, streamed).
func (c *remote) finishUpload(ctx context.Context, repo string, resp *http.Response, d digest.Digest, size int64, r io.Reader) error {
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("registry %s: upload without a Location: %w", c.name, err)
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	put, err := c.do(ctx, http.MethodPut, loc.String(), r, size,
		http.Header{"Content-Type": {"application/octet-stream"}, "Content-Length": {strconv.FormatInt(size, 10)}},
		[]string{pushScope(repo)}, http.StatusCreated, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return err
	}
	put.Body.Close()
	return nil
}

func (c *remote) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error) {
	repo, from = c.repoName(repo), c.repoName(from)
	resp, err := c.startUpload(ctx, repo, "?mount="+url.QueryEscape(d.String())+"&from="+url.QueryEscape(from),
		[]string{pushScope(repo), pullScope(from)})
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return true, nil
	}
	// 202: a session was opened instead; cancel it, the caller uploads.
	if loc, err := resp.Location(); err == nil {
		if del, err := c.do(ctx, http.MethodDelete, loc.String(), nil, 0, nil, []string{pushScope(repo)}, http.StatusNoContent, http.StatusOK, http.StatusAccepted); err == nil {
			del.Body.Close()
		}
	}
	return false, nil
}

func (c *remote) Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	repo = c.repoName(repo)
	resp, err := c.do(ctx, http.MethodGet, "/v2/"+repo+"/referrers/"+d.String(), nil, 0,
		http.Header{"Accept": {v1.MediaTypeImageIndex}}, []string{pullScope(repo)}, http.StatusOK)
	if err == nil {
		defer resp.Body.Close()
		if mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) == v1.MediaTypeImageIndex {
			var idx v1.Index
			if err := json.NewDecoder(io.LimitReader(resp.Body, maxManifest)).Decode(&idx); err != nil {
				return nil, fmt.Errorf("registry %s: referrers of %s: %w", c.name, d, err)
			}
			return idx.Manifests, nil
		}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	// No referrers API: the tag scheme.
	m, err := c.Manifest(ctx, repo, fallbackTag(d))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var idx v1.Index
	if err := json.Unmarshal(m.Content, &idx); err != nil {
		return nil, fmt.Errorf("registry %s: referrers tag of %s: %w", c.name, d, err)
	}
	return idx.Manifests, nil
}

// fallbackTag is the referrers tag scheme's tag of subject d.
func fallbackTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded()
}
