package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	digest "github.com/opencontainers/go-digest"
)

// response is one completed exchange. Its String method renders both the
// request and the response, so every failure message shows what was sent
// and what came back.
type response struct {
	Method     string
	URL        *url.URL
	ReqHeader  http.Header
	ReqBody    []byte // nil when the body was streamed
	ReqLen     int64  // -1 when streamed without a length
	Status     int
	StatusText string
	Header     http.Header
	Body       []byte
	// RegistryHeader is the header of the registry's redirect response
	// when the request was redirected (blob downloads may be), else nil.
	RegistryHeader http.Header
}

func (r *response) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  --> %s %s\n", r.Method, r.URL)
	writeHeaders(&b, "      ", r.ReqHeader)
	switch {
	case r.ReqLen < 0:
		b.WriteString("      (streamed body, no Content-Length)\n")
	case r.ReqLen > 0:
		fmt.Fprintf(&b, "      (body %d bytes) %s\n", r.ReqLen, preview(r.ReqBody, 300))
	}
	fmt.Fprintf(&b, "  <-- %s\n", r.StatusText)
	writeHeaders(&b, "      ", r.Header)
	if len(r.Body) > 0 {
		fmt.Fprintf(&b, "      (body %d bytes) %s\n", len(r.Body), preview(r.Body, 2000))
	}
	return b.String()
}

func writeHeaders(b *strings.Builder, indent string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", indent, k, v)
		}
	}
}

func preview(p []byte, max int) string {
	cut := p
	if len(cut) > max {
		cut = cut[:max]
	}
	printable := utf8.Valid(cut)
	if printable {
		for _, c := range string(cut) {
			if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
				printable = false
				break
			}
		}
	}
	var s string
	if printable {
		s = string(cut)
	} else {
		// Binary: a short hex excerpt is enough to recognise it.
		if len(cut) > 32 {
			cut = cut[:32]
		}
		s = fmt.Sprintf("(binary) %x", cut)
		max = len(cut)
	}
	if len(p) > max {
		s += fmt.Sprintf(" ...(%d more bytes)", len(p)-max)
	}
	return s
}

// hdr builds a header from name/value pairs. A name may repeat.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// resolve turns a path ("/v2/..."), or a Location header value relative to
// the URL of a previous response, into an absolute URL.
func (s *suite) resolve(from *url.URL, ref string) *url.URL {
	if from == nil {
		from = s.base
	}
	if strings.HasPrefix(ref, "/v2/") && from == s.base {
		u := *s.base
		p, q, _ := strings.Cut(ref, "?")
		u.Path = strings.TrimRight(s.base.Path, "/") + p
		u.RawPath = ""
		u.RawQuery = q
		return &u
	}
	r, err := url.Parse(ref)
	if err != nil {
		return &url.URL{Scheme: "invalid", Opaque: ref}
	}
	return from.ResolveReference(r)
}

// withQuery returns u with the given query parameters added, keeping the
// ones already present (upload locations may carry state in their query).
func withQuery(u *url.URL, kv ...string) *url.URL {
	c := *u
	q := c.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	c.RawQuery = q.Encode()
	return &c
}

// do sends a request with a fully known body. target is a path below the
// base URL or an absolute URL.
func (s *suite) do(t *testing.T, method, target string, h http.Header, body []byte) *response {
	t.Helper()
	return s.doURL(t, method, s.resolve(nil, target), h, body)
}

func (s *suite) doURL(t *testing.T, method string, u *url.URL, h http.Header, body []byte) *response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatalf("building request %s %s: %v", method, u, err)
	}
	// NewRequest re-parses the string; keep the exact URL we were given.
	req.URL = u
	for k, vs := range h {
		req.Header[k] = append([]string(nil), vs...)
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	return s.send(t, req, body, int64(len(body)))
}

// doStream sends body with chunked transfer encoding and no Content-Length,
// the way the Docker client streams a layer in a single PATCH.
func (s *suite) doStream(t *testing.T, method string, u *url.URL, h http.Header, body []byte) *response {
	t.Helper()
	// A reader that is not a *bytes.Reader makes net/http stream it.
	rd := io.MultiReader(bytes.NewReader(body))
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatalf("building request %s %s: %v", method, u, err)
	}
	req.URL = u
	req.ContentLength = -1
	for k, vs := range h {
		req.Header[k] = append([]string(nil), vs...)
	}
	return s.send(t, req, nil, -1)
}

func (s *suite) send(t *testing.T, req *http.Request, body []byte, n int64) *response {
	t.Helper()
	r := &response{Method: req.Method, URL: req.URL, ReqHeader: req.Header.Clone(), ReqBody: body, ReqLen: n}
	if n > 0 || (n == 0 && (req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH")) {
		r.ReqHeader.Set("Content-Length", fmt.Sprint(n))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("request failed: %v\n%s", err, r)
	}
	defer resp.Body.Close()
	r.Body, err = io.ReadAll(resp.Body)
	r.Status = resp.StatusCode
	r.StatusText = resp.Status
	r.Header = resp.Header
	if resp.Request != nil && resp.Request.URL.String() != req.URL.String() {
		r.StatusText += " (after redirect to " + resp.Request.URL.String() + ")"
		r.URL = resp.Request.URL
		// Keep the registry's own redirect response: its headers (such as
		// Docker-Content-Digest) are the registry's answer.
		for prev := resp.Request.Response; prev != nil; prev = prev.Request.Response {
			r.RegistryHeader = prev.Header
		}
	}
	if err != nil {
		t.Fatalf("reading the response body failed (%v): the body is shorter than its Content-Length, or the connection broke\n%s", err, r)
	}
	return r
}

// location resolves the response's Location header; it fails the test when
// the header is missing.
func (s *suite) location(t *testing.T, r *response) *url.URL {
	t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		t.Fatalf("response has no Location header\n%s", r)
	}
	return s.resolve(r.URL, loc)
}

// wantStatus fails the test immediately unless the status is one of codes.
func wantStatus(t *testing.T, r *response, codes ...int) {
	t.Helper()
	if !slices.Contains(codes, r.Status) {
		t.Fatalf("want status %s, got %d\n%s", statusList(codes), r.Status, r)
	}
}

func statusList(codes []int) string {
	var s []string
	for _, c := range codes {
		s = append(s, fmt.Sprintf("%d %s", c, http.StatusText(c)))
	}
	return strings.Join(s, " or ")
}

// wantHeader reports an error unless the header has exactly this value.
func wantHeader(t *testing.T, r *response, name, value string) {
	t.Helper()
	if got := r.Header.Values(name); len(got) != 1 || got[0] != value {
		t.Errorf("want header %s: %q, got %q\n%s", name, value, got, r)
	}
}

// wantDigestHeader checks that Docker-Content-Digest names c. The spec lets
// the registry answer with its canonical digest when the content was asked
// for under another algorithm ("MAY differ from the provided digest ... the
// hashing algorithms used do not match"), so a digest of the same bytes
// under a different algorithm is accepted too.
func wantDigestHeader(t *testing.T, r *response, c content) {
	t.Helper()
	got := r.Header.Values("Docker-Content-Digest")
	if r.RegistryHeader != nil {
		got = r.RegistryHeader.Values("Docker-Content-Digest")
	}
	if len(got) != 1 {
		t.Errorf("want one Docker-Content-Digest header naming %s, got %q\n%s", c.digest, got, r)
		return
	}
	if got[0] == c.digest.String() {
		return
	}
	d, err := digest.Parse(got[0])
	if err == nil && d.Algorithm() != c.digest.Algorithm() && d.Algorithm().FromBytes(c.body) == d {
		t.Logf("note: Docker-Content-Digest is %s for content addressed as %s (same bytes, other algorithm; allowed)", d, c.digest)
		return
	}
	t.Errorf("want Docker-Content-Digest: %s, got %s\n%s", c.digest, got[0], r)
}

// wantBody reports an error unless the body is exactly want.
func wantBody(t *testing.T, r *response, want []byte) {
	t.Helper()
	if !bytes.Equal(r.Body, want) {
		t.Errorf("body differs from what was pushed: want %d bytes %s\n%s", len(want), preview(want, 200), r)
	}
}

// errorBody is the distribution-spec error envelope.
type errorBody struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message json.RawMessage `json:"message,omitempty"`
		Detail  json.RawMessage `json:"detail,omitempty"`
	} `json:"errors"`
}

var errorCodeRE = regexp.MustCompile(`^[A-Z_]+$`)

// errorCodes parses the body as the spec's error envelope and returns the
// codes, or a description of what is wrong with it.
func errorCodes(r *response) ([]string, string) {
	if len(bytes.TrimSpace(r.Body)) == 0 {
		return nil, "the body is empty (want a JSON error envelope)"
	}
	var eb errorBody
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	if err := dec.Decode(&eb); err != nil {
		return nil, "the body is not a JSON error envelope: " + err.Error()
	}
	if len(eb.Errors) == 0 {
		return nil, `the body has no "errors" entries`
	}
	var codes []string
	for i, e := range eb.Errors {
		if !errorCodeRE.MatchString(e.Code) {
			return nil, fmt.Sprintf("errors[%d].code %q is not uppercase letters and underscores", i, e.Code)
		}
		if len(e.Message) > 0 && e.Message[0] != '"' && string(e.Message) != "null" {
			return nil, fmt.Sprintf("errors[%d].message is not a string: %s", i, e.Message)
		}
		codes = append(codes, e.Code)
	}
	return codes, ""
}

// wantError fails the test unless the response has the given status and a
// JSON error envelope carrying one of the given codes.
func wantError(t *testing.T, r *response, status int, codes ...string) {
	t.Helper()
	wantStatus(t, r, status)
	got, problem := errorCodes(r)
	if problem != "" {
		t.Fatalf("status %d is right but %s\n%s", status, problem, r)
	}
	for _, c := range got {
		if slices.Contains(codes, c) {
			return
		}
	}
	t.Fatalf("want error code %s, got %v\n%s", strings.Join(codes, " or "), got, r)
}

// checkErrorIfJSON checks the error envelope only when the registry chose to
// send a body (the spec lets a 4xx body be in any format, but a JSON one
// must have the envelope shape).
func checkErrorIfJSON(t *testing.T, r *response) {
	t.Helper()
	if len(bytes.TrimSpace(r.Body)) == 0 || !json.Valid(r.Body) {
		return
	}
	if _, problem := errorCodes(r); problem != "" {
		t.Errorf("JSON error body does not follow the spec's error format: %s\n%s", problem, r)
	}
}
