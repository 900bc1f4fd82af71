package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/replication"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/trust"
)

// errorCodes maps the service's sentinel errors to OCI codes, with a
// status when it differs from the code's default.
var errorCodes = []struct {
	err    error
	code   oci.Code
	status int
}{
	{registry.ErrNameUnknown, oci.CodeNameUnknown, 0},
	{registry.ErrBlobUnknown, oci.CodeBlobUnknown, 0},
	{registry.ErrUploadUnknown, oci.CodeBlobUploadUnknown, 0},
	{registry.ErrUploadInvalid, oci.CodeBlobUploadInvalid, 0},
	{registry.ErrDigestInvalid, oci.CodeDigestInvalid, 0},
	{oci.ErrDigestInvalid, oci.CodeDigestInvalid, 0},
	{registry.ErrSizeInvalid, oci.CodeSizeInvalid, 0},
	{registry.ErrRangeInvalid, oci.CodeBlobUploadInvalid, http.StatusRequestedRangeNotSatisfiable},
	{oci.ErrRangeInvalid, oci.CodeBlobUploadInvalid, http.StatusRequestedRangeNotSatisfiable},
	{registry.ErrUploadBusy, oci.CodeBlobUploadInvalid, http.StatusRequestedRangeNotSatisfiable},
	{registry.ErrManifestUnknown, oci.CodeManifestUnknown, 0},
	{registry.ErrManifestBlobUnknown, oci.CodeManifestBlobUnknown, 0},
	{registry.ErrManifestInvalid, oci.CodeManifestInvalid, 0},
	{registry.ErrManifestTooLarge, oci.CodeManifestInvalid, http.StatusRequestEntityTooLarge},
	{registry.ErrTagInvalid, oci.CodeTagInvalid, 0},
	{registry.ErrUnsupported, oci.CodeUnsupported, 0},
	{registry.ErrUpstreamUnavailable, oci.CodeUnknown, http.StatusBadGateway},
	{registry.ErrUpstreamRateLimited, oci.CodeTooManyRequests, 0},
	{registry.ErrTooManyUploads, oci.CodeTooManyRequests, 0},
	{registry.ErrProxyReadOnly, oci.CodeDenied, 0},
	{registry.ErrDenied, oci.CodeDenied, 0},
	{registry.ErrRetry, oci.CodeUnknown, http.StatusServiceUnavailable},
	{policy.ErrQuotaExceeded, oci.CodeDenied, 0},
	{policy.ErrTagImmutable, oci.CodeDenied, 0},
	{policy.ErrInvalid, oci.CodeUnsupported, http.StatusBadRequest},
	{policy.ErrNotFound, oci.CodeNameUnknown, http.StatusNotFound},
	{policy.ErrBusy, oci.CodeTooManyRequests, http.StatusConflict},
	{events.ErrInvalid, oci.CodeUnsupported, http.StatusBadRequest},
	{events.ErrNotFound, oci.CodeNameUnknown, http.StatusNotFound},
	{events.ErrConflict, oci.CodeUnsupported, http.StatusConflict},
	{replication.ErrNotFound, "NOT_FOUND", http.StatusNotFound},
	{replication.ErrInvalid, oci.CodeUnsupported, http.StatusBadRequest},
	{replication.ErrConflict, "CONFLICT", http.StatusConflict},
	{replication.ErrUnsupported, oci.CodeUnsupported, http.StatusBadRequest},
	{trust.ErrInvalid, oci.CodeUnsupported, http.StatusBadRequest},
	{trust.ErrNotFound, oci.CodeNameUnknown, http.StatusNotFound},
	{trust.ErrConflict, oci.CodeUnsupported, http.StatusConflict},
	{scan.ErrNoDatabase, oci.CodeUnknown, http.StatusServiceUnavailable},
	{scan.ErrNotScannable, oci.CodeUnsupported, http.StatusBadRequest},
	{scan.ErrNotScanned, oci.CodeManifestUnknown, http.StatusNotFound},
	{scan.ErrInvalid, oci.CodeUnsupported, http.StatusBadRequest},
	{scan.ErrQueueFull, oci.CodeTooManyRequests, 0},
}

// ToOCI turns any error into the OCI error sent to the client. Unknown
// errors become a generic 500 UNKNOWN: their text may hold internals.
func ToOCI(err error) *oci.Error {
	var oe *oci.Error
	if errors.As(err, &oe) {
		return oe
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			e := &oci.Error{Code: m.code, Message: err.Error(), Status: m.status}
			var missing *registry.MissingReferenceError
			if errors.As(err, &missing) {
				e.Detail = map[string]string{"digest": missing.Digest.String()}
			}
			return e
		}
	}
	return &oci.Error{Code: oci.CodeUnknown, Message: "internal server error"}
}

// headerSetter is an error with headers of its own (a rate limit's
// Retry-After and RateLimit-*): WriteError sets them.
type headerSetter interface {
	SetHeaders(http.Header)
}

// challenger is an error asking the client to authenticate: WriteError
// sends its challenge as the WWW-Authenticate header.
type challenger interface {
	error
	Challenge() string
}

type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Code    oci.Code `json:"code"`
	Message string   `json:"message"`
	Detail  any      `json:"detail,omitempty"`
}

// WriteError writes err as an OCI error response ({"errors":[...]}, no body
// on HEAD). Headers already set by the handler (Range, Location) are kept.
// Errors that are not client errors are logged with their detail.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	oe := ToOCI(err)
	status := oe.HTTPStatus()
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "request_id", Info(r).ID, "error", err.Error())
	}
	msg := oe.Message
	if msg == "" {
		msg = oe.Code.Message()
	}
	body, _ := json.Marshal(errorBody{Errors: []errorItem{{Code: oe.Code, Message: msg, Detail: oe.Detail}}})
	h := w.Header()
	var ch challenger
	if errors.As(err, &ch) {
		h.Set("WWW-Authenticate", ch.Challenge())
	}
	var hs headerSetter
	if errors.As(err, &hs) {
		hs.SetHeaders(h)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Docker-Content-Digest")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
