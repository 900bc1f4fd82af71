package v2

import (
	"io"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// GetManifest serves GET and HEAD /v2/<name>/manifests/<reference>. The
// manifest is returned with the media type it was pushed with, whatever the
// Accept header lists: Berth never converts manifests.
// Spec: "Pulling manifests", "Checking if content exists in the registry".
func (h *Handlers) GetManifest(w http.ResponseWriter, r *http.Request) error {
	ctx, warnings := h.pullContext(w, r)
	ctx = registry.ForClient(ctx) // the pull gates decide
	if r.Method == http.MethodGet {
		ctx = registry.CountPull(ctx) // a download, for the pull statistics
	}
	m, err := h.svc.GetManifest(ctx, r.PathValue("name"), r.PathValue("ref"))
	if err != nil {
		return err
	}
	setWarnings(w, warnings)
	hdr := w.Header()
	hdr.Set("Content-Type", m.MediaType)
	hdr.Set("Content-Length", strconv.Itoa(len(m.Content)))
	hdr.Set("Docker-Content-Digest", m.Digest.String())
	hdr.Set("ETag", `"`+m.Digest.String()+`"`)
	if _, byDigest, _ := registry.LookupReference(r.PathValue("ref")); byDigest {
		hdr.Set("Cache-Control", h.immutableCache(r, r.PathValue("name")))
	} else {
		hdr.Set("Cache-Control", cacheByTag)
	}
	if r.Header.Get("If-None-Match") == `"`+m.Digest.String()+`"` {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(m.Content)
	}
	return nil
}

// PutManifest serves PUT /v2/<name>/manifests/<reference>, with any number
// of ?tag= parameters on a push by digest. Spec: "Pushing Manifests",
// "Pushing Manifests with Subject".
func (h *Handlers) PutManifest(w http.ResponseWriter, r *http.Request) error {
	limit := h.svc.MaxManifestSize()
	if r.ContentLength > limit {
		return &oci.Error{Code: oci.CodeManifestInvalid, Status: http.StatusRequestEntityTooLarge,
			Message: "manifest of " + strconv.FormatInt(r.ContentLength, 10) + " bytes exceeds the limit of " + strconv.FormatInt(limit, 10)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return oci.NewError(oci.CodeManifestInvalid, "reading manifest: "+err.Error())
	}
	name := r.PathValue("name")
	res, err := h.svc.PutManifest(r.Context(), name, r.PathValue("ref"), r.URL.Query()["tag"], r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+name+"/manifests/"+res.Digest.String())
	hdr.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != "" {
		hdr.Set("OCI-Subject", res.Subject.String())
	}
	for _, t := range res.Tags {
		hdr.Add("OCI-Tag", t)
	}
	return noContent(w, http.StatusCreated)
}

// DeleteManifest serves DELETE /v2/<name>/manifests/<reference>: by digest
// the manifest and its tags go; by tag only the tag.
// Spec: "Deleting Manifests", "Deleting tags".
func (h *Handlers) DeleteManifest(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteManifest(r.Context(), r.PathValue("name"), r.PathValue("ref")); err != nil {
		return err
	}
	return noContent(w, http.StatusAccepted)
}
