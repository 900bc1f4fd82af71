// Package api holds the plumbing shared by Berth's HTTP APIs: the
// per-request information that routers fill in and the access log reads,
// and the one place where errors become OCI error responses.
package api

import (
	"context"
	"net/http"
)

// RequestInfo is filled in as a request is routed; the access log and
// metrics middleware read it after the handler returns.
type RequestInfo struct {
	ID    string // request id
	Route string // route name from the route table, e.g. "blob_get"
	Repo  string // repository name, when the route has one
	Ref   string // the path's last element: reference, digest or upload id
	// User is the authenticated subject (user or robot name); empty for
	// anonymous requests and with authentication off. The access log and
	// the audit log read it.
	User string
	// Addr is the client's address (behind trusted proxies, the one they
	// forwarded for).
	Addr string
}

type infoKey struct{}

// WithInfo returns a context carrying info.
func WithInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// Info returns the request's info; never nil.
func Info(r *http.Request) *RequestInfo {
	if info, ok := r.Context().Value(infoKey{}).(*RequestInfo); ok {
		return info
	}
	return &RequestInfo{}
}

// InfoFrom returns the info a context carries (a request's), or nil.
func InfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(infoKey{}).(*RequestInfo)
	return info
}

// HandlerFunc is an HTTP handler that returns its error instead of writing
// it; the router writes it with WriteError.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error
