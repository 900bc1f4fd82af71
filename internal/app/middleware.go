package app

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/api"
)

// middleware wraps every request: recover -> request id -> access log and
// metrics, reading the route and repository the router recorded.
func (a *App) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &api.RequestInfo{ID: requestID(r), Addr: a.clientAddr(r)}
		r = r.WithContext(api.WithInfo(r.Context(), info))
		rw := &responseWriter{ResponseWriter: w}
		rw.Header().Set("X-Request-Id", info.ID)
		body := &requestBody{}
		if r.Body != nil && r.Body != http.NoBody {
			body = newRequestBody(w, r.Body, a.cfg.HTTP.BodyIdleTimeout)
			r.Body = body
			rw.body, rw.req = body, r
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(r.Context(), "panic serving request", "request_id", info.ID, "panic", p, "stack", string(debug.Stack()))
				if rw.status == 0 {
					api.WriteError(rw, r, a.log, errPanic)
				}
			}
			if rw.status == 0 {
				rw.status = http.StatusOK
			}
			route := info.Route
			if route == "" {
				route = "other"
			}
			elapsed := time.Since(start)
			a.metrics.observe(route, r.Method, rw.status, elapsed, body.n, rw.bytes)
			a.auditRequest(r, info, rw.status, rw.Header().Get("Docker-Content-Digest"), elapsed)
			if a.cfg.Log.Access && a.log.Enabled(r.Context(), slog.LevelInfo) {
				a.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("request_id", info.ID),
					slog.String("method", r.Method),
					slog.String("route", route),
					slog.String("repo", info.Repo),
					slog.String("user", info.User),
					slog.Int("status", rw.status),
					slog.Int64("bytes_in", body.n),
					slog.Int64("bytes", rw.bytes),
					slog.Duration("duration", elapsed),
					slog.String("remote", r.RemoteAddr),
				)
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

// clientAddr is the client's address: the peer's, or behind trusted
// proxies (with access control on) the one they forwarded for.
func (a *App) clientAddr(r *http.Request) string {
	if a.auth != nil {
		return a.auth.ClientAddr(r)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// errPanic is reported to a client whose request panicked.
var errPanic = errString("internal error")

type errString string

func (e errString) Error() string { return string(e) }

// requestID keeps a sane incoming X-Request-Id, or makes a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && printable(id) {
		return id
	}
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '"' {
			return false
		}
	}
	return true
}

// named records the route name of a non-/v2/ handler.
func named(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.Info(r).Route = name
		h.ServeHTTP(w, r)
	})
}

// responseWriter records the status and the bytes sent. It implements
// io.ReaderFrom by delegating, so blob bodies still go out with sendfile.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	body   *requestBody // nil without a request body
	req    *http.Request
}

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		if status == http.StatusUnauthorized && w.body != nil {
			w.body.refuse(w.ResponseWriter, w.req)
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.bytes += n
	return n, err
}

func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusText is used by health endpoints.
func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	io.WriteString(w, text)
}
