package v2

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// Tags serves GET /v2/<name>/tags/list with n/last pagination.
// Spec: "Listing Tags".
func (h *Handlers) Tags(w http.ResponseWriter, r *http.Request) error {
	n, last, err := pagination(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	ctx, _ := h.pullContext(w, r)
	p, err := h.svc.Tags(ctx, name, last, n)
	if err != nil {
		return err
	}
	setNextLink(w, r, p, n)
	return writeJSON(w, r, http.StatusOK, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, p.Items})
}

// Catalog serves GET /v2/_catalog with n/last pagination: the
// repositories the caller may see.
func (h *Handlers) Catalog(w http.ResponseWriter, r *http.Request) error {
	n, last, err := pagination(r)
	if err != nil {
		return err
	}
	var visible func(string) bool
	if h.authz != nil {
		if visible, err = h.authz.Visible(r); err != nil {
			return err
		}
	}
	p, err := h.svc.Catalog(r.Context(), last, n, visible)
	if err != nil {
		return err
	}
	setNextLink(w, r, p, n)
	return writeJSON(w, r, http.StatusOK, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{p.Items})
}

// pagination reads n (-1 when absent) and last.
func pagination(r *http.Request) (int, string, error) {
	q := r.URL.Query()
	n := -1
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, "", &oci.Error{Code: oci.CodeUnsupported, Status: http.StatusBadRequest, Message: "n must be a non-negative integer"}
		}
		n = v
	}
	return n, q.Get("last"), nil
}

// setNextLink adds an RFC 8288 Link header to the next page, if any.
func setNextLink(w http.ResponseWriter, r *http.Request, p registry.Page, n int) {
	if !p.More || len(p.Items) == 0 {
		return
	}
	q := url.Values{}
	if n >= 0 {
		q.Set("n", strconv.Itoa(n))
	}
	q.Set("last", p.Items[len(p.Items)-1])
	w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
}
