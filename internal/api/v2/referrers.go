package v2

import (
	"net/http"

	"github.com/berth-registry/berth/internal/oci"
)

// Referrers serves GET /v2/<name>/referrers/<digest>: an OCI index of the
// manifests whose subject is the digest, optionally filtered by
// artifactType. Spec: "Listing Referrers".
func (h *Handlers) Referrers(w http.ResponseWriter, r *http.Request) error {
	dgst, err := pathDigest(r)
	if err != nil {
		return err
	}
	artifactType := r.URL.Query().Get("artifactType")
	ctx, _ := h.pullContext(w, r)
	idx, err := h.svc.Referrers(ctx, r.PathValue("name"), dgst, artifactType)
	if err != nil {
		return err
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(w, r, http.StatusOK, oci.MediaTypeImageIndex, idx)
}
