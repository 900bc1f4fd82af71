package conformance

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Options tunes which optional parts of the specification are exercised.
// The zero value runs everything.
type Options struct {
	// Client is the HTTP client used for every request. When nil, a client
	// with a 2-minute timeout is used. Redirects are followed only for GET
	// and HEAD requests (blob downloads may legitimately redirect); for
	// every other method the suite needs to see the registry's own answer.
	Client *http.Client

	// SkipSHA512 skips the tests that push and pull sha512 blobs and
	// manifests (`?digest-algorithm=sha512`, `sha512:` digests).
	SkipSHA512 bool

	// SkipReferrers skips the referrers API tests (distribution-spec v1.1
	// "Listing Referrers", `OCI-Subject`).
	SkipReferrers bool

	// SkipMultiTag skips the tests for pushing one manifest by digest with
	// several `?tag=` query parameters and the `OCI-Tag` response header.
	SkipMultiTag bool

	// MaxManifestSize is the largest manifest the registry is expected to
	// accept; one byte more must be refused with 413. Zero means 4 MiB,
	// the size the specification says registries should expect to support.
	MaxManifestSize int
}

// Run runs the whole conformance suite against the registry at baseURL
// (for example "http://127.0.0.1:5001") with default Options.
func Run(t *testing.T, baseURL string) {
	t.Helper()
	RunWithOptions(t, baseURL, Options{})
}

// RunWithOptions runs the whole conformance suite against the registry at
// baseURL. Every area is a subtest; every test uses repositories of its own
// under a random per-run prefix, so tests run in parallel and the suite can
// be pointed at a registry that already holds other content.
func RunWithOptions(t *testing.T, baseURL string, opts Options) {
	t.Helper()
	s, err := newSuite(baseURL, opts)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	// Fail fast, with one clear message, when the target is not there.
	r := s.do(t, "GET", "/v2/", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("conformance: target %s is not answering GET /v2/ with 200; not running the suite\n%s", baseURL, r)
	}
	t.Logf("conformance: repositories for this run are under %q", s.prefix)

	areas := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"base", testBase},
		{"pull", testPull},
		{"push-blobs", testPushBlobs},
		{"push-chunked", testPushChunked},
		{"push-manifests", testPushManifests},
		{"sha512", testSHA512},
		{"discovery", testDiscovery},
		{"referrers", testReferrers},
		{"management", testManagement},
		{"errors-blobs", testBlobErrors},
		{"errors-manifests", testManifestErrors},
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			a.fn(t, s)
		})
	}
}

// suite is the state shared by every test of one run.
type suite struct {
	base    *url.URL
	client  *http.Client
	opts    Options
	prefix  string
	counter atomic.Int64
}

func newSuite(baseURL string, opts Options) (*suite, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, err
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, &url.Error{Op: "parse", URL: baseURL, Err: errNotAbsolute}
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Minute}
	}
	// Copy the client so that our redirect policy does not leak into the
	// caller's.
	c := *client
	if c.Transport == nil {
		// No transparent gzip: the suite checks Content-Length and the
		// exact bytes the registry sends.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableCompression = true
		c.Transport = tr
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if m := via[0].Method; m != http.MethodGet && m != http.MethodHead {
			return http.ErrUseLastResponse
		}
		if len(via) >= 5 {
			return http.ErrUseLastResponse
		}
		return nil
	}
	if opts.MaxManifestSize == 0 {
		opts.MaxManifestSize = 4 << 20
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &suite{
		base:   u,
		client: &c,
		opts:   opts,
		prefix: "conformance-" + hex.EncodeToString(b),
	}, nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errNotAbsolute = constError("base URL must be absolute, like http://127.0.0.1:5000")

var invalidNameChars = regexp.MustCompile(`[^a-z0-9]+`)

// repo returns a repository name unique to this run and this test. Names
// follow the distribution-spec grammar: lowercase alphanumeric components
// separated by single dashes, joined by slashes.
func (s *suite) repo(t *testing.T, hint string) string {
	t.Helper()
	parts := strings.Split(t.Name(), "/")
	if len(parts) > 1 {
		parts = parts[1:] // drop the top-level Go test name
	}
	if hint != "" {
		parts = append(parts, hint)
	}
	var out []string
	for _, p := range parts {
		p = strings.Trim(invalidNameChars.ReplaceAllString(strings.ToLower(p), "-"), "-")
		if p != "" {
			out = append(out, p)
		}
	}
	name := s.prefix + "/" + strings.Join(out, "/")
	if len(name) > 200 {
		name = name[:200]
	}
	return strings.TrimRight(name, "-/")
}

// unique returns a short string unique within this run, for tags and
// annotation values.
func (s *suite) unique() string {
	return s.prefix[len("conformance-"):] + "-" + strconv.FormatInt(s.counter.Add(1), 10)
}
