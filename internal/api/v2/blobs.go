package v2

import (
	"io"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/oci"
)

// GetBlob serves GET and HEAD /v2/<name>/blobs/<digest>, with single-range
// requests. The body is copied straight from the stored file to the
// connection (sendfile on Linux): keep this path free of wrappers.
// Spec: "Pulling blobs", "Checking if content exists in the registry".
func (h *Handlers) GetBlob(w http.ResponseWriter, r *http.Request) error {
	dgst, err := pathDigest(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	ctx, _ := h.pullContext(w, r)
	hdr := w.Header()
	etag := `"` + dgst.String() + `"`
	if r.Method == http.MethodHead {
		b, err := h.svc.StatBlob(ctx, name, dgst)
		if err != nil {
			return err
		}
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Length", strconv.FormatInt(b.Size, 10))
		hdr.Set("Docker-Content-Digest", dgst.String())
		hdr.Set("Accept-Ranges", "bytes")
		hdr.Set("ETag", etag)
		hdr.Set("Cache-Control", h.immutableCache(r, name))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	blob, err := h.svc.OpenBlob(ctx, name, dgst)
	if err != nil {
		return err
	}
	defer blob.Close()
	hdr.Set("Docker-Content-Digest", dgst.String())
	if blob.RedirectURL != "" {
		// The bytes come from the object store; Range goes with the client.
		// The URL is signed and expires: no cache may keep it.
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("Location", blob.RedirectURL)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return nil
	}
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", h.immutableCache(r, name))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	status, start, length := http.StatusOK, int64(0), blob.Size
	if rh := r.Header.Get("Range"); rh != "" {
		rng, ok, err := oci.ParseRange(rh, blob.Size)
		if err != nil {
			hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(blob.Size, 10))
			return &oci.Error{Code: oci.CodeSizeInvalid, Status: http.StatusRequestedRangeNotSatisfiable, Message: err.Error()}
		}
		if ok {
			status, start, length = http.StatusPartialContent, rng.Start, rng.Length()
			hdr.Set("Content-Range", "bytes "+strconv.FormatInt(rng.Start, 10)+"-"+
				strconv.FormatInt(rng.End, 10)+"/"+strconv.FormatInt(blob.Size, 10))
		}
	}
	if start > 0 {
		if err := skip(blob.ReadCloser, start); err != nil {
			return err
		}
	}
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	// io.CopyN hands an io.LimitedReader over the *os.File to the
	// ResponseWriter's ReadFrom, which uses sendfile.
	io.CopyN(w, blob.ReadCloser, length)
	return nil
}

// skip advances a reader by n bytes, by seeking when it can.
func skip(r io.Reader, n int64) error {
	if s, ok := r.(io.Seeker); ok {
		_, err := s.Seek(n, io.SeekCurrent)
		return err
	}
	_, err := io.CopyN(io.Discard, r, n)
	return err
}

// DeleteBlob serves DELETE /v2/<name>/blobs/<digest>: the repository no
// longer links the blob. Spec: "Deleting Blobs".
func (h *Handlers) DeleteBlob(w http.ResponseWriter, r *http.Request) error {
	dgst, err := pathDigest(r)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteBlob(r.Context(), r.PathValue("name"), dgst); err != nil {
		return err
	}
	return noContent(w, http.StatusAccepted)
}
