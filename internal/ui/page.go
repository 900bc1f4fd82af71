package ui

import (
	"net/http"
	"strings"
)

// flashCookie carries the catalog key of a message to show once, on the
// page a form redirects to.
const flashCookie = "berth_flash"

// page starts a view's data for r: language, viewer, flash message.
func (u *UI) page(r *http.Request, title string) *Page {
	p := &Page{
		L:      u.cats.localizer(pickLang(r), u.now()),
		Viewer: viewer(r),
		AuthOn: u.auth != nil,
		Title:  title,
		Path:   r.URL.RequestURI(),
	}
	if c, err := r.Cookie(flashCookie); err == nil {
		if _, ok := u.cats[languages[0]][c.Value]; ok && strings.HasPrefix(c.Value, "flash.") {
			p.Flash = c.Value
		}
	}
	return p
}

// show renders a view with status 200 and clears a shown flash.
func (u *UI) show(w http.ResponseWriter, r *http.Request, view string, p *Page) error {
	if p.Flash != "" {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	u.render(w, r, http.StatusOK, view, p)
	return nil
}

// invalid renders a form again with its field errors (422), in the
// page's language; nothing was saved.
func (u *UI) invalid(w http.ResponseWriter, r *http.Request, view string, p *Page) error {
	u.render(w, r, http.StatusUnprocessableEntity, view, p)
	return nil
}

// done ends a successful form: a flash message and a redirect (so a
// reload does not post again).
func (u *UI) done(w http.ResponseWriter, r *http.Request, to, flash string) error {
	if flash != "" {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: flash, Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// localPath accepts a redirect target only on this site: a path, not
// //host or /\host.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/ui/"
	}
	return next
}
