package v2

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// StartUpload serves POST /v2/<name>/blobs/uploads/: a cross-repository
// mount (?mount=&from=), a monolithic push (?digest=), or a new upload
// session. A mount needs pull on its source too; without it, the client
// gets an upload session instead, as the spec allows.
// Spec: "Pushing blobs", "Mounting a blob from another repository".
func (h *Handlers) StartUpload(w http.ResponseWriter, r *http.Request) error {
	name, q := r.PathValue("name"), r.URL.Query()
	if mount, from := q.Get("mount"), q.Get("from"); mount != "" && from != "" && oci.ValidName(from) && h.allowed(r, from, ActionPull) {
		if dgst, err := oci.ParseDigest(mount); err == nil {
			b, err := h.svc.MountBlob(r.Context(), name, from, dgst)
			if err == nil {
				return blobCreated(w, name, b.Digest)
			}
			if !errors.Is(err, registry.ErrBlobUnknown) {
				return err
			}
		}
		// Not mountable: fall back to a normal upload session.
	}
	if d := q.Get("digest"); d != "" {
		dgst, err := oci.ParseDigest(d)
		if err != nil {
			return err
		}
		b, err := h.svc.PushBlob(r.Context(), name, dgst, r.ContentLength, r.Body)
		if err != nil {
			return err
		}
		return blobCreated(w, name, b.Digest)
	}
	ctx := registry.WithClient(r.Context(), client(r))
	u, err := h.svc.StartUpload(ctx, name, digest.Algorithm(q.Get("digest-algorithm")))
	if err != nil {
		return err
	}
	setUploadHeaders(w, u)
	return noContent(w, http.StatusAccepted)
}

// client names who opens an upload session, for the per-client cap: the
// user, or an anonymous client's address.
func client(r *http.Request) string {
	info := api.Info(r)
	if info.User != "" {
		return "user " + info.User
	}
	if info.Addr != "" {
		return "address " + info.Addr
	}
	return ""
}

// UploadStatus serves GET /v2/<name>/blobs/uploads/<id>.
// Spec: "Pushing a blob in chunks" (status of an upload).
func (h *Handlers) UploadStatus(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.UploadStatus(r.Context(), r.PathValue("name"), r.PathValue("ref"))
	if err != nil {
		return err
	}
	setUploadHeaders(w, u)
	return noContent(w, http.StatusNoContent)
}

// PatchUpload serves PATCH /v2/<name>/blobs/uploads/<id>: a chunk with a
// Content-Range, or a stream without one. A chunk that does not start where
// the upload ends, or that arrives while another request (on any instance)
// writes the session, gets 416 with the current Range.
// Spec: "Pushing a blob in chunks".
func (h *Handlers) PatchUpload(w http.ResponseWriter, r *http.Request) error {
	start, length, err := chunkStart(r)
	if err != nil {
		return h.rangeError(w, r, err)
	}
	u, err := h.svc.WriteUpload(r.Context(), r.PathValue("name"), r.PathValue("ref"), start, length, r.Body)
	switch {
	case errors.Is(err, registry.ErrRangeInvalid):
		setUploadHeaders(w, u)
		return err
	case errors.Is(err, registry.ErrUploadBusy):
		return h.rangeError(w, r, err)
	case err != nil:
		return err
	}
	setUploadHeaders(w, u)
	return noContent(w, http.StatusAccepted)
}

// FinishUpload serves PUT /v2/<name>/blobs/uploads/<id>?digest=: an
// optional last chunk, then verification and commit.
// Spec: "Closing a chunked upload" / "POST then PUT".
func (h *Handlers) FinishUpload(w http.ResponseWriter, r *http.Request) error {
	d := r.URL.Query().Get("digest")
	if d == "" {
		return oci.NewError(oci.CodeDigestInvalid, "the digest query parameter is required to finish an upload")
	}
	dgst, err := oci.ParseDigest(d)
	if err != nil {
		return err
	}
	start, length, err := chunkStart(r)
	if err != nil {
		return h.rangeError(w, r, err)
	}
	name := r.PathValue("name")
	b, err := h.svc.FinishUpload(r.Context(), name, r.PathValue("ref"), dgst, start, length, r.Body)
	if err != nil {
		if errors.Is(err, registry.ErrRangeInvalid) || errors.Is(err, registry.ErrUploadBusy) {
			return h.rangeError(w, r, err)
		}
		return err
	}
	return blobCreated(w, name, b.Digest)
}

// CancelUpload serves DELETE /v2/<name>/blobs/uploads/<id>. A session
// another request is writing gets 416 with its current state.
func (h *Handlers) CancelUpload(w http.ResponseWriter, r *http.Request) error {
	err := h.svc.CancelUpload(r.Context(), r.PathValue("name"), r.PathValue("ref"))
	if errors.Is(err, registry.ErrUploadBusy) {
		return h.rangeError(w, r, err)
	}
	if err != nil {
		return err
	}
	return noContent(w, http.StatusNoContent)
}

// chunkStart returns where the request's chunk starts, from Content-Range
// (-1 without one), and its length: Content-Range's, else Content-Length
// (-1: not known). A Content-Range whose length disagrees with
// Content-Length is refused; a chunked body must then have the range's
// length exactly (the service checks it as it reads).
func chunkStart(r *http.Request) (start, length int64, err error) {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return -1, r.ContentLength, nil
	}
	rng, err := oci.ParseContentRange(cr)
	if err != nil {
		return 0, 0, err
	}
	if r.ContentLength >= 0 && r.ContentLength != rng.Length() {
		return 0, 0, &oci.Error{Code: oci.CodeBlobUploadInvalid, Status: http.StatusRequestedRangeNotSatisfiable,
			Message: "Content-Range length " + strconv.FormatInt(rng.Length(), 10) +
				" does not match Content-Length " + strconv.FormatInt(r.ContentLength, 10)}
	}
	return rng.Start, rng.Length(), nil
}

// rangeError answers a chunk the upload cannot take with 416 and the
// upload's current state, so the client knows where to resume.
func (h *Handlers) rangeError(w http.ResponseWriter, r *http.Request, err error) error {
	if u, serr := h.svc.UploadStatus(r.Context(), r.PathValue("name"), r.PathValue("ref")); serr == nil {
		setUploadHeaders(w, u)
	} else {
		return serr
	}
	var oe *oci.Error
	if errors.As(err, &oe) {
		oe.Status = http.StatusRequestedRangeNotSatisfiable
		return oe
	}
	return err
}

// setUploadHeaders sets Location, Range and the session id headers.
func setUploadHeaders(w http.ResponseWriter, u registry.Upload) {
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+u.Repository+"/blobs/uploads/"+u.ID)
	hdr.Set("Range", "0-"+strconv.FormatInt(max(u.Size-1, 0), 10))
	hdr.Set("Docker-Upload-UUID", u.ID)
	hdr.Set("Blob-Upload-Session-ID", u.ID)
}

// blobCreated answers a finished upload or mount.
func blobCreated(w http.ResponseWriter, name string, dgst digest.Digest) error {
	w.Header().Set("Location", "/v2/"+name+"/blobs/"+dgst.String())
	w.Header().Set("Docker-Content-Digest", dgst.String())
	return noContent(w, http.StatusCreated)
}
