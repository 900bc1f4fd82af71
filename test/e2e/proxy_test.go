package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// recordingProxy sits between the clients and the server and records each
// request's method, URI, status and the registry headers that matter, so a
// test can check what a client did (a mount, a chunked upload) and a
// failing test can show the exchange.
type recordingProxy struct {
	addr string
	srv  *http.Server

	mu   sync.Mutex
	recs []requestRecord
}

type requestRecord struct {
	Method     string
	URI        string
	Status     int
	ReqHeader  http.Header // selected request headers
	RespHeader http.Header // selected response headers
	UserAgent  string
	Duration   time.Duration
}

const maxRecords = 20000

var (
	recordedRequestHeaders = []string{"Content-Type", "Content-Length", "Content-Range", "Accept", "Range"}
	recordedReplyHeaders   = []string{"Location", "Docker-Content-Digest", "Content-Type", "Content-Length",
		"Range", "OCI-Subject", "OCI-Filters-Applied", "OCI-Chunk-Min-Length", "Link", "Docker-Upload-UUID", "OCI-Namespace"}
)

func startRecordingProxy(backend string) (*recordingProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &recordingProxy{addr: l.Addr().String()}
	targetURL := &url.URL{Scheme: "http", Host: backend}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targetURL)
			// Keep the client's Host, so absolute Location URLs the
			// server builds from it point back at the proxy.
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true,
		},
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		p.record(resp.Request, resp.StatusCode, resp.Header)
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		p.record(r, 0, http.Header{"Proxy-Error": {err.Error()}})
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: withStart(rp), ReadHeaderTimeout: 30 * time.Second}
	go p.srv.Serve(l)
	return p, nil
}

type startKey struct{}

// withStart notes when a request arrived, for its recorded duration.
func withStart(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startKey{}, time.Now())))
	})
}

func (p *recordingProxy) record(r *http.Request, status int, h http.Header) {
	rec := requestRecord{
		Method:     r.Method,
		URI:        r.URL.RequestURI(),
		Status:     status,
		ReqHeader:  http.Header{},
		RespHeader: http.Header{},
		UserAgent:  r.Header.Get("User-Agent"),
	}
	if s, ok := r.Context().Value(startKey{}).(time.Time); ok {
		rec.Duration = time.Since(s)
	}
	for _, k := range recordedRequestHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			rec.ReqHeader[http.CanonicalHeaderKey(k)] = v
		}
	}
	if r.ContentLength > 0 && rec.ReqHeader.Get("Content-Length") == "" {
		rec.ReqHeader.Set("Content-Length", fmt.Sprint(r.ContentLength))
	}
	for _, k := range recordedReplyHeaders {
		if v := h.Values(k); len(v) > 0 {
			rec.RespHeader[http.CanonicalHeaderKey(k)] = v
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.recs) < maxRecords {
		p.recs = append(p.recs, rec)
	}
}

func (p *recordingProxy) records() []requestRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]requestRecord(nil), p.recs...)
}

func (p *recordingProxy) close() { p.srv.Close() }

func (r requestRecord) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %d", r.Method, r.URI, r.Status)
	for _, k := range recordedRequestHeaders {
		if v := r.ReqHeader.Get(k); v != "" {
			fmt.Fprintf(&b, " >%s=%s", k, v)
		}
	}
	for _, k := range recordedReplyHeaders {
		if v := r.RespHeader.Get(k); v != "" {
			fmt.Fprintf(&b, " <%s=%s", k, v)
		}
	}
	if v := r.RespHeader.Get("Proxy-Error"); v != "" {
		fmt.Fprintf(&b, " proxy-error=%q", v)
	}
	if r.Duration >= time.Second {
		fmt.Fprintf(&b, " (%.1fs)", r.Duration.Seconds())
	}
	if ua := r.UserAgent; ua != "" {
		fmt.Fprintf(&b, " [%s]", shortAgent(ua))
	}
	return b.String()
}

func shortAgent(ua string) string {
	if i := strings.IndexByte(ua, ' '); i > 0 {
		return ua[:i]
	}
	return ua
}

func formatRecords(recs []requestRecord) string {
	if len(recs) == 0 {
		return "  (none recorded)"
	}
	var b strings.Builder
	for _, r := range recs {
		b.WriteString("  ")
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// requestsSince returns the records after the first n.
func requestsSince(recs []requestRecord, n int) []requestRecord {
	if n > len(recs) {
		return nil
	}
	return recs[n:]
}
