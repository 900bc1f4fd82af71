package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Raw registry API calls, for checks no client exposes.

var httpClient = &http.Client{
	Timeout: 2 * time.Minute,
	// Redirects are the test's business (blob GETs may redirect).
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// String shows the response for failure messages.
func (r httpResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\n", r.Status)
	for k, v := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(v, ", "))
	}
	b.WriteString(truncate(string(r.Body), 2000))
	return b.String()
}

// do sends one request to the registry and reads the whole response.
func (r *registry) do(t testing.TB, method, path string, header http.Header, body []byte) httpResult {
	t.Helper()
	u := path
	if !strings.HasPrefix(path, "http://") {
		u = r.URL(path)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// getManifest fetches a manifest by tag or digest accepting any type.
func (r *registry) getManifest(t testing.TB, repo, ref string) httpResult {
	t.Helper()
	return r.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, http.Header{"Accept": {allManifestTypes}}, nil)
}

// mustManifest fetches a manifest that must exist; it checks that the
// body hashes to Docker-Content-Digest (when sent) and to ref when ref is a
// digest.
func (r *registry) mustManifest(t testing.TB, repo, ref string) (manifest, httpResult) {
	t.Helper()
	res := r.getManifest(t, repo, ref)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /v2/%s/manifests/%s: want 200, got\n%s", repo, ref, res)
	}
	got := sha256Digest(res.Body)
	if h := res.Header.Get("Docker-Content-Digest"); h != "" && h != got {
		t.Errorf("GET /v2/%s/manifests/%s: Docker-Content-Digest %s, body hashes to %s", repo, ref, h, got)
	}
	if strings.HasPrefix(ref, "sha256:") && got != ref {
		t.Errorf("GET /v2/%s/manifests/%s: body hashes to %s", repo, ref, got)
	}
	return parseManifest(t, res.Body), res
}

// headBlob returns the status of HEAD /v2/<repo>/blobs/<digest>.
func (r *registry) headBlob(t testing.TB, repo, digest string) httpResult {
	t.Helper()
	return r.do(t, http.MethodHead, "/v2/"+repo+"/blobs/"+digest, nil, nil)
}

// tags returns GET /v2/<repo>/tags/list (no pagination), sorted.
func (r *registry) tags(t testing.TB, repo string) []string {
	t.Helper()
	res := r.do(t, http.MethodGet, "/v2/"+repo+"/tags/list", nil, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /v2/%s/tags/list: want 200, got\n%s", repo, res)
	}
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("GET /v2/%s/tags/list: %v\n%s", repo, err, res.Body)
	}
	if body.Name != repo {
		t.Errorf("GET /v2/%s/tags/list: name %q", repo, body.Name)
	}
	return sortedCopy(body.Tags)
}

// paginate follows Link headers from path with page size n and returns
// all values of the JSON list field (tags or repositories) in order.
func (r *registry) paginate(t testing.TB, path, field string, n int) []string {
	t.Helper()
	var all []string
	next := fmt.Sprintf("%s?n=%d", path, n)
	for pages := 0; next != ""; pages++ {
		if pages > 1000 {
			t.Fatalf("%s: more than 1000 pages", path)
		}
		res := r.do(t, http.MethodGet, next, nil, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: want 200, got\n%s", next, res)
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(res.Body, &body); err != nil {
			t.Fatalf("GET %s: %v\n%s", next, err, res.Body)
		}
		var page []string
		if raw, ok := body[field]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &page); err != nil {
				t.Fatalf("GET %s: %s: %v", next, field, err)
			}
		}
		if len(page) > n {
			t.Errorf("GET %s: %d entries, more than n=%d", next, len(page), n)
		}
		all = append(all, page...)
		next = nextLink(t, res.Header.Get("Link"))
	}
	return all
}

// nextLink extracts the target of `<...>; rel="next"`, as a path.
func nextLink(t testing.TB, link string) string {
	t.Helper()
	if link == "" {
		return ""
	}
	start, end := strings.IndexByte(link, '<'), strings.IndexByte(link, '>')
	if start < 0 || end < start || !strings.Contains(link[end:], `rel="next"`) {
		t.Fatalf("malformed Link header %q", link)
	}
	u, err := url.Parse(link[start+1 : end])
	if err != nil {
		t.Fatalf("Link header %q: %v", link, err)
	}
	return u.RequestURI()
}

// errorCodes returns the codes of an OCI error body.
func errorCodes(body []byte) []string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(body, &e)
	var out []string
	for _, x := range e.Errors {
		out = append(out, x.Code)
	}
	return out
}

// expectError checks a response is the status with the error code.
func expectError(t testing.TB, what string, res httpResult, status int, code string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("%s: want %d %s, got\n%s", what, status, code, res)
		return
	}
	if codes := errorCodes(res.Body); !slices.Contains(codes, code) {
		t.Errorf("%s: want error code %s, got %v\n%s", what, code, codes, res)
	}
}

// pushBlob uploads a blob monolithically (POST then PUT ?digest=).
func (r *registry) pushBlob(t testing.TB, repo string, data []byte) string {
	t.Helper()
	d := sha256Digest(data)
	res := r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if res.Status != http.StatusAccepted {
		t.Fatalf("POST /v2/%s/blobs/uploads/: want 202, got\n%s", repo, res)
	}
	loc := r.resolve(t, res.Header.Get("Location"))
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	res = r.do(t, http.MethodPut, loc+sep+"digest="+url.QueryEscape(d),
		http.Header{"Content-Type": {"application/octet-stream"}}, data)
	if res.Status != http.StatusCreated {
		t.Fatalf("PUT upload of %s: want 201, got\n%s", d, res)
	}
	return d
}

// resolve makes a Location header value absolute against the registry.
func (r *registry) resolve(t testing.TB, loc string) string {
	t.Helper()
	if loc == "" {
		t.Fatal("no Location header")
	}
	base, _ := url.Parse(r.URL("/"))
	u, err := base.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u.String()
}
