package oci

import (
	"errors"
	"net/http"
)

// Code is an error code of the OCI Distribution Spec (or one of the Docker
// Registry API's codes that clients also understand).
type Code string

// The error codes of the spec ("Error Codes"), plus UNKNOWN for server
// errors, as Distribution sends it.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
	CodeUnknown             Code = "UNKNOWN"

	// CodeTagInvalid is the Docker Registry HTTP API V2's code (kept by
	// Distribution and zot) for a push to a reference that is not a valid
	// tag; the OCI spec names none.
	CodeTagInvalid Code = "TAG_INVALID"
)

// codeInfo is what the catalog knows about a code: its default message and
// the HTTP status it is sent with.
type codeInfo struct {
	Message string
	Status  int
}

// catalog registers every code with its message and status in one place.
var catalog = map[Code]codeInfo{
	CodeBlobUnknown:         {"blob unknown to registry", http.StatusNotFound},
	CodeBlobUploadInvalid:   {"blob upload invalid", http.StatusBadRequest},
	CodeBlobUploadUnknown:   {"blob upload unknown to registry", http.StatusNotFound},
	CodeDigestInvalid:       {"provided digest did not match uploaded content", http.StatusBadRequest},
	CodeManifestBlobUnknown: {"manifest references a manifest or blob unknown to registry", http.StatusBadRequest},
	CodeManifestInvalid:     {"manifest invalid", http.StatusBadRequest},
	CodeManifestUnknown:     {"manifest unknown to registry", http.StatusNotFound},
	CodeNameInvalid:         {"invalid repository name", http.StatusBadRequest},
	CodeNameUnknown:         {"repository name not known to registry", http.StatusNotFound},
	CodeSizeInvalid:         {"provided length did not match content length", http.StatusBadRequest},
	CodeUnauthorized:        {"authentication required", http.StatusUnauthorized},
	CodeDenied:              {"requested access to the resource is denied", http.StatusForbidden},
	CodeUnsupported:         {"the operation is unsupported", http.StatusMethodNotAllowed},
	CodeTooManyRequests:     {"too many requests", http.StatusTooManyRequests},
	CodeUnknown:             {"unknown error", http.StatusInternalServerError},
	CodeTagInvalid:          {"manifest tag is invalid", http.StatusBadRequest},
}

// Codes returns every registered code (for tests and documentation).
func Codes() []Code {
	out := make([]Code, 0, len(catalog))
	for c := range catalog {
		out = append(out, c)
	}
	return out
}

// Status is the HTTP status a code is sent with.
func (c Code) Status() int {
	if info, ok := catalog[c]; ok {
		return info.Status
	}
	return http.StatusInternalServerError
}

// Message is the code's default message.
func (c Code) Message() string { return catalog[c].Message }

// Error is an OCI error: a code, a message for the client and optional
// detail. Status overrides the code's default HTTP status when non-zero.
type Error struct {
	Code    Code
	Message string
	Detail  any
	Status  int
}

func (e *Error) Error() string {
	if e.Message != "" {
		return string(e.Code) + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Code.Message()
}

// HTTPStatus is the status the error is sent with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Code.Status()
}

// NewError returns an *Error with a specific message.
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Sentinel errors for grammar failures, usable with errors.Is by any layer.
var (
	ErrDigestInvalid = errors.New("invalid digest")
	ErrRangeInvalid  = errors.New("invalid range")
)
