package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/replication"
)

// errorData is the error view's data: a status and the catalog key of a
// sentence saying what happened.
type errorData struct {
	Status  int
	Message string
}

// fail turns a handler's error into an error page: 401 from the
// permission check sends an anonymous visitor to the log-in page, 403,
// 404 and 500 are pages in words. Details go to the log, never the page.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "error.500.text"
	var oe *oci.Error
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, meta.ErrNotFound), errors.Is(err, registry.ErrNameUnknown), errors.Is(err, events.ErrNotFound), errors.Is(err, replication.ErrNotFound),
		errors.Is(err, registry.ErrManifestUnknown):
		status, msg = http.StatusNotFound, "error.404.text"
	case errors.Is(err, errCrossOrigin):
		status, msg = http.StatusForbidden, "error.cross_origin"
	case errors.As(err, &oe) && oe.HTTPStatus() == http.StatusUnauthorized:
		if r.Method == http.MethodGet && u.auth != nil {
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		status, msg = http.StatusForbidden, "error.403.text"
	case errors.As(err, &oe) && oe.HTTPStatus() == http.StatusForbidden, errors.Is(err, errForbidden):
		status, msg = http.StatusForbidden, "error.403.text"
	case errors.As(err, &oe) && oe.HTTPStatus() < 500:
		status, msg = oe.HTTPStatus(), "error.400.text"
	default:
		u.log.ErrorContext(r.Context(), "ui: request failed", "path", r.URL.Path, "error", err)
	}
	p := u.page(r, "error."+statusKey(status)+".title")
	p.Data = errorData{Status: status, Message: msg}
	u.render(w, r, status, "error", p)
}

func statusKey(status int) string {
	switch status {
	case http.StatusNotFound:
		return "404"
	case http.StatusForbidden:
		return "403"
	case http.StatusInternalServerError:
		return "500"
	}
	return "400"
}

// errForbidden: the viewer may not do this.
var errForbidden = errors.New("ui: forbidden")
