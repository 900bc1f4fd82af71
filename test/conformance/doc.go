// Package conformance is a black-box conformance suite for container
// registries, written from the OCI Distribution Specification v1.1 (with the
// later additions for multiple `?tag=` parameters and sha512 uploads) and
// the Docker Registry HTTP API V2 behaviours that Docker clients rely on.
// It talks to a running registry over HTTP with net/http only.
//
// # Running
//
// From a test, against any registry:
//
//	func TestMyRegistry(t *testing.T) {
//		conformance.Run(t, "http://127.0.0.1:5001")
//	}
//
// or, from this package, against a registry that is already running:
//
//	CONFORMANCE_URL=http://127.0.0.1:5001 go test ./test/conformance/
//
// Options (RunWithOptions, or CONFORMANCE_SKIP=sha512,referrers,multitag)
// leave out the parts a registry predating them cannot pass. The zero
// Options run everything.
//
// Every test pushes fresh random content to repositories of its own, named
// "conformance-<random>/<area>/<test>[/<hint>]", so the tests run in parallel
// and the suite can share a registry with other content. Nothing is cleaned
// up afterwards. Failure messages show the request and the response
// (status, headers and body) that broke the expectation.
//
// # Coverage, by section of the specification
//
// Determining support (end-1), file base.go:
//   - GET /v2/ answers 200 with Docker-Distribution-API-Version: registry/2.0.
//   - Blobs and manifests are scoped to their repository: a blob pushed to A
//     is 404 BLOB_UNKNOWN in B until mounted or pushed there.
//
// Pull: pulling manifests and blobs, checking existence (end-2, end-3),
// file pull.go:
//   - GET and HEAD of manifests by tag and by digest: 200, the exact bytes,
//     Content-Type, Content-Length, Docker-Content-Digest; HEAD has no body.
//   - GET and HEAD of blobs, with Content-Length and Docker-Content-Digest.
//   - Range requests (RFC 9110): 206 with Content-Range; 416 past the end.
//   - 404 MANIFEST_UNKNOWN and BLOB_UNKNOWN for unknown content.
//   - Content negotiation: Accept with one type, a list, repeated Accept
//     lines (as Docker sends them) and q-values, for OCI and Docker types.
//
// Push: pushing blobs (end-4a, end-4b, end-6, end-11, end-14), file
// push_blobs.go:
//   - Single POST with ?digest= (201), POST then PUT (202, 201), distinct
//     upload sessions, pushing an existing blob again, the empty blob.
//   - A streamed PATCH with chunked transfer encoding and no Content-Range,
//     and a PATCH with Content-Length but no Content-Range.
//   - Cancelling an upload (DELETE 204, then 404 BLOB_UPLOAD_UNKNOWN).
//   - Cross-repository mount (201) and its fallback to an upload (202).
//   - Location headers of created blobs are pullable.
//
// Push: pushing a blob in chunks (end-5, end-6, end-13), file
// push_chunked.go:
//   - PATCH with Content-Range, each answered 202 with Location and
//     Range: 0-<end>; the last chunk in a PATCH or in the closing PUT.
//   - Chunks out of order, overlapping, or not starting at 0: 416, and the
//     session survives and can be completed.
//   - Upload status (GET: 204, Location, Range) and resuming after it.
//
// Push: pushing manifests (end-7), file push_manifests.go:
//   - By tag and by digest, for the OCI image manifest and index, Docker
//     schema 2 manifest and manifest list, artifacts with artifactType, a
//     custom config media type, and an artifact index: 201, Location,
//     Docker-Content-Digest; children of indexes pullable by digest.
//   - Bytes stored verbatim (unknown fields, whitespace), moving a tag,
//     several tags on one manifest.
//   - One PUT by digest with several ?tag= parameters and an OCI-Tag
//     response header for each (Options.SkipMultiTag).
//
// Content digests: sha512, file sha512.go (Options.SkipSHA512):
//   - Blob uploads opened with ?digest-algorithm=sha512: POST then PUT,
//     single POST, chunked; mount; GET, HEAD and Range by sha512 digest.
//   - Manifests and indexes pushed and pulled by a sha512 digest, also with
//     ?tag=; a sha512 digest mismatch is DIGEST_INVALID.
//
// Content discovery: listing tags (end-8a, end-8b) and the catalog, file
// discovery.go:
//   - tags/list in lexical order; n and last; RFC 8288
//     Link: <url>; rel="next" followed to the end; n=0 gives an empty list
//     and no Link; 404 NAME_UNKNOWN for an unknown repository.
//   - _catalog with n, last and Link, in strictly increasing order; n=0.
//
// Content discovery: listing referrers (end-12a, end-12b), file
// referrers.go (Options.SkipReferrers):
//   - An image index (Content-Type application/vnd.oci.image.index.v1+json),
//     empty and 200 — never 404 — when there are no referrers.
//   - OCI-Subject on the PUT of a manifest with a subject; descriptors with
//     mediaType, size, artifactType (or the config media type; omitted for
//     an index without one) and annotations.
//   - The artifactType filter with OCI-Filters-Applied: artifactType.
//   - The subject need not exist; referrers are per repository; a deleted
//     referrer disappears; an invalid digest is 400.
//
// Content management: deleting tags, manifests and blobs (end-9, end-10),
// file management.go:
//   - DELETE of a tag (202) leaves the manifest and its other tags.
//   - DELETE of a manifest by digest (202) removes it and every tag
//     pointing at it; it can be pushed again.
//   - DELETE of a blob (202), then 404 BLOB_UNKNOWN; deletion in one
//     repository leaves the blob in another; 404s for unknown content.
//
// Error codes, files errors_blobs.go and errors_manifests.go: each refused
// operation answers the spec's {"errors":[{"code","message","detail"}]}
// envelope with the right status and code, and afterwards the blob,
// manifest or tag it would have created is still 404.
//   - BLOB_UNKNOWN, BLOB_UPLOAD_UNKNOWN (unknown session), DIGEST_INVALID
//     (wrong digest on POST, PUT and chunked close; malformed digest;
//     missing digest), unsupported digest algorithms, SIZE_INVALID or
//     BLOB_UPLOAD_INVALID (chunk length differs from its Content-Range), a
//     Content-Range that skips bytes, an upload truncated by the client.
//   - MANIFEST_BLOB_UNKNOWN (missing layer, missing config, blobs only in
//     another repository; an index with a missing child if refused),
//     MANIFEST_INVALID (malformed JSON, wrong schemaVersion), DIGEST_INVALID
//     (PUT by a digest that does not match), Docker schema 1 refused
//     (MANIFEST_INVALID or UNSUPPORTED), 413 for a manifest over the limit
//     while one at the limit (4 MiB) is accepted.
//   - NAME_INVALID for uppercase names and ".." components, and
//     NAME_UNKNOWN for a repository that does not exist.
//   - A reference that is neither a tag nor a digest
//     (.INVALID_MANIFEST_NAME, a leading dash, 129 characters, sha256:xyz):
//     404 MANIFEST_UNKNOWN on GET, HEAD and DELETE, as Distribution and
//     zot answer; 400 (TAG_INVALID, or MANIFEST_INVALID) on a push.
package conformance
