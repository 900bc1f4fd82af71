package ui

import (
	"net/http"

	"errors"
	"github.com/berth-registry/berth/internal/api/manage"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// formPage starts a form's page data: empty errors and values.
func formPage(p *Page) *Page {
	p.Errors, p.Form = map[string]string{}, map[string]string{}
	return p
}

// fieldError places a validation error of the access-control service
// (an auth.FieldError) beside its field: keys maps the service's field
// names to the form's field and catalog key. It reports false for any
// other error (returned as is: a 404, 403 or 500 page).
func fieldError(p *Page, err error, keys map[string][2]string) bool {
	var fe *auth.FieldError
	if !errors.As(err, &fe) {
		return false
	}
	k, ok := keys[fe.Field]
	if !ok {
		return false
	}
	p.Errors[k[0]] = k[1]
	return true
}

// maxExpiryDays bounds an expiry typed in days (ten years).
const maxExpiryDays = 3650

// expiryDays reads an optional expiry in whole days from now: "" is
// never (the zero time); ok is false for anything but 1 to 3650.
func expiryDays(s string, now time.Time) (t time.Time, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxExpiryDays {
		return time.Time{}, false
	}
	return now.Add(time.Duration(n) * 24 * time.Hour), true
}

// can reports whether the viewer has perm (for {project} of the path),
// checked as the API checks it: pages show the forms of what the viewer
// may do, the form's own route checks again.
func (u *UI) can(r *http.Request, perm manage.Permission) bool {
	return u.access.Authorize(r, perm) == nil
}

// isExists reports a name already taken (meta.ErrExists).
func isExists(err error) bool { return errors.Is(err, meta.ErrExists) }
