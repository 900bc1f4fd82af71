package v2

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// Handlers holds the /v2/ handlers; each parses the request, calls one
// service method, sets the protocol headers and returns an error.
type Handlers struct {
	svc   *registry.Service
	authz Authorizer // nil: everything allowed
}

// NewHandlers returns the handlers over a registry service.
func NewHandlers(svc *registry.Service) *Handlers { return &Handlers{svc: svc} }

// WithAuthorizer lets the handlers ask a about mount sources and catalog
// entries (the router checks the routes themselves).
func (h *Handlers) WithAuthorizer(a Authorizer) *Handlers {
	h.authz = a
	return h
}

// allowed reports whether the request may do action on repo.
func (h *Handlers) allowed(r *http.Request, repo string, action Action) bool {
	return h.authz == nil || h.authz.Allowed(r, repo, action)
}

// Base answers GET /v2/: the API version check every client makes first.
// Spec: "Determining Support".
func (h *Handlers) Base(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, r, http.StatusOK, "application/json", struct{}{})
}

// writeJSON writes v as the response body (none on HEAD).
func writeJSON(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}

// pathDigest parses the digest at the end of the path.
func pathDigest(r *http.Request) (digest.Digest, error) {
	return oci.ParseDigest(r.PathValue("ref"))
}

// noContent writes an empty response with a status.
func noContent(w http.ResponseWriter, status int) error {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}
