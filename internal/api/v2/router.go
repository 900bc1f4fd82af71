// Package v2 implements the OCI Distribution API (and the Docker Registry
// HTTP API V2 it grew from) under /v2/. The router matches a path from the
// right, because a repository name may have any number of components; the
// route table (internal/app/routes.go) pairs each kind of path and method
// with its handler and the access it needs.
//
// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md
package v2

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/oci"
)

// Kind is the shape of a /v2/ path.
type Kind int

// The shapes of /v2/ paths.
const (
	KindNone      Kind = iota
	KindBase           // /v2/
	KindCatalog        // /v2/_catalog
	KindTags           // /v2/<name>/tags/list
	KindManifest       // /v2/<name>/manifests/<reference>
	KindBlob           // /v2/<name>/blobs/<digest>
	KindUploads        // /v2/<name>/blobs/uploads/
	KindUpload         // /v2/<name>/blobs/uploads/<id>
	KindReferrers      // /v2/<name>/referrers/<digest>
)

// Action is the access a route needs on its repository.
type Action string

// Actions, as token scopes name them.
const (
	ActionNone   Action = ""
	ActionPull   Action = "pull"
	ActionPush   Action = "push"
	ActionDelete Action = "delete"
)

// Route is one entry of the route table.
type Route struct {
	Name   string // label in logs and metrics
	Kind   Kind
	Method string
	Action Action
	Handle api.HandlerFunc
}

// Match parses a /v2/ path into its kind, repository name and last element
// (reference, digest or upload id). The name is not validated here.
func Match(path string) (kind Kind, name, last string) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return KindBase, "", ""
		}
		return KindNone, "", ""
	}
	if rest == "" {
		return KindBase, "", ""
	}
	if rest == "_catalog" {
		return KindCatalog, "", ""
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	if n < 3 {
		return KindNone, "", ""
	}
	join := func(k int) string { return strings.Join(segs[:k], "/") }
	switch {
	case segs[n-2] == "tags" && segs[n-1] == "list":
		return KindTags, join(n - 2), ""
	case segs[n-2] == "manifests":
		return KindManifest, join(n - 2), segs[n-1]
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		if segs[n-1] == "" {
			return KindUploads, join(n - 3), ""
		}
		return KindUpload, join(n - 3), segs[n-1]
	case segs[n-2] == "blobs":
		if segs[n-1] == "uploads" {
			return KindUploads, join(n - 2), ""
		}
		return KindBlob, join(n - 2), segs[n-1]
	case segs[n-2] == "referrers":
		return KindReferrers, join(n - 2), segs[n-1]
	}
	return KindNone, "", ""
}

// Authorizer decides what a request may do (internal/auth, when access
// control is on). The router asks it about every matched route, with the
// route's Action, before the handler runs; handlers ask it about mount
// sources and catalog entries.
type Authorizer interface {
	// Authorize returns the error to send instead of running the route.
	Authorize(r *http.Request, m Matched) error
	// Allowed reports whether the request may do action on repo.
	Allowed(r *http.Request, repo string, action Action) bool
	// Visible returns a filter of the repositories the request may list
	// (nil: all).
	Visible(r *http.Request) (func(repo string) bool, error)
}

// Admitter decides, after authorization, whether a request may run now
// (rate limits); it may set response headers.
type Admitter interface {
	Admit(w http.ResponseWriter, r *http.Request, m Matched) error
}

// Router dispatches /v2/ requests through a route table.
type Router struct {
	routes map[Kind]map[string]Route
	allow  map[Kind]string
	authz  Authorizer
	admit  Admitter // nil: no rate limits
	log    *slog.Logger
}

// NewRouter builds a router from the route table.
func NewRouter(table []Route, log *slog.Logger) *Router {
	rt := &Router{routes: map[Kind]map[string]Route{}, allow: map[Kind]string{}, log: log}
	for _, r := range table {
		if rt.routes[r.Kind] == nil {
			rt.routes[r.Kind] = map[string]Route{}
		}
		rt.routes[r.Kind][r.Method] = r
		if rt.allow[r.Kind] != "" {
			rt.allow[r.Kind] += ", "
		}
		rt.allow[r.Kind] += r.Method
	}
	return rt
}

// WithAuthorizer makes the router check every matched route with a
// before its handler runs.
func (rt *Router) WithAuthorizer(a Authorizer) *Router {
	rt.authz = a
	return rt
}

// WithAdmitter makes the router ask a about every authorized request
// before its handler runs.
func (rt *Router) WithAdmitter(a Admitter) *Router {
	rt.admit = a
	return rt
}

// Matched is the result of routing a request.
type Matched struct {
	Route
	Repo string // repository name ("" for /v2/ and /v2/_catalog)
	Last string // reference, digest or upload id
}

// Route finds the table entry for a request. The error, if any, is an OCI
// error ready to send (unknown path, method not allowed, invalid name).
func (rt *Router) Route(r *http.Request) (Matched, error) {
	kind, name, last := Match(r.URL.Path)
	m := Matched{Route: Route{Name: "v2_unknown", Kind: kind}, Repo: name, Last: last}
	methods, ok := rt.routes[kind]
	if !ok {
		return m, &oci.Error{Code: oci.CodeUnsupported, Message: "no such API endpoint: " + r.URL.Path, Status: http.StatusNotFound}
	}
	route, ok := methods[r.Method]
	if !ok {
		return m, &oci.Error{Code: oci.CodeUnsupported, Message: r.Method + " is not allowed here; allowed: " + rt.allow[kind]}
	}
	m.Route = route
	if kind != KindBase && kind != KindCatalog && !oci.ValidName(name) {
		return m, oci.NewError(oci.CodeNameInvalid, "invalid repository name: "+name)
	}
	return m, nil
}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	m, err := rt.Route(r)
	info := api.Info(r)
	info.Route, info.Repo, info.Ref = m.Name, m.Repo, m.Last
	if err != nil {
		if allow := rt.allow[m.Kind]; allow != "" {
			w.Header().Set("Allow", allow)
		}
		api.WriteError(w, r, rt.log, err)
		return
	}
	if rt.authz != nil {
		if err := rt.authz.Authorize(r, m); err != nil {
			api.WriteError(w, r, rt.log, err)
			return
		}
	}
	if rt.admit != nil {
		if err := rt.admit.Admit(w, r, m); err != nil {
			api.WriteError(w, r, rt.log, err)
			return
		}
	}
	r.SetPathValue("name", m.Repo)
	r.SetPathValue("ref", m.Last)
	if err := m.Handle(w, r); err != nil {
		if api.ToOCI(err).HTTPStatus() < 500 {
			discardBody(w, r)
		}
		api.WriteError(w, r, rt.log, err)
	}
}

// maxDiscard bounds how much of a refused request's body is read and
// dropped before the error is sent.
const maxDiscard = 64 << 20

// discardBody reads and drops what is left of a refused request's body (up
// to maxDiscard, for at most 10 s). An error sent while the client is still
// sending ends with the server closing the connection on unread data, and
// the client's kernel may then drop the error unread (a reset): skopeo
// refused by a quota saw "connection reset by peer" instead of the DENIED
// message. Larger or slower bodies are refused without reading them all:
// the connection closes after the error (Connection: close, and a read
// deadline already past, so the server does not wait for the rest either).
func discardBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	rc := http.NewResponseController(w)
	end := time.Now().Add(10 * time.Second)
	rc.SetReadDeadline(end)
	if _, err := io.CopyN(io.Discard, untilReader{r.Body, end}, maxDiscard); err == io.EOF {
		rc.SetReadDeadline(time.Time{})
		return
	}
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	rc.SetReadDeadline(time.Now())
}

// untilReader stops reading at a time (a body that keeps moving pushes
// the connection's read deadline forward: this bounds the whole).
type untilReader struct {
	r   io.Reader
	end time.Time
}

func (u untilReader) Read(p []byte) (int, error) {
	if time.Now().After(u.end) {
		return 0, os.ErrDeadlineExceeded
	}
	return u.r.Read(p)
}
