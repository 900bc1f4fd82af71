package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/oci"
)

// loginPage serves GET /ui/login.
func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) error {
	if u.auth == nil || viewer(r).LoggedIn {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	p := u.page(r, "login.title")
	p.Form = map[string]string{"next": localPath(r.URL.Query().Get("next"))}
	p.Data = u.loginData()
	return u.show(w, r, "login", p)
}

// login serves POST /ui/login: the same check of user name and password
// as the token endpoint (every source of users, the failed-login limits),
// then a session.
func (u *UI) login(w http.ResponseWriter, r *http.Request) error {
	if u.auth == nil {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return nil
	}
	user, pw := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	p := u.page(r, "login.title")
	p.Form = map[string]string{"username": user, "next": next}
	p.Errors = map[string]string{}
	p.Data = u.loginData()
	if user == "" {
		p.Errors["username"] = "login.username_required"
	}
	if pw == "" {
		p.Errors["password"] = "login.password_required"
	}
	if len(p.Errors) > 0 {
		return u.invalid(w, r, "login", p)
	}
	api.Info(r).User = user // the audit log's subject, failed or not
	subj, err := u.auth.Login(r.Context(), user, pw, u.auth.ClientAddr(r))
	var oe *oci.Error
	switch {
	case err == nil && subj.Kind != auth.KindUser:
		p.Errors["username"] = "login.users_only"
	case errors.As(err, &oe) && oe.Code == oci.CodeTooManyRequests:
		p.Errors["password"] = "login.too_many"
	case errors.As(err, &oe) && oe.HTTPStatus() == http.StatusServiceUnavailable:
		p.Errors["password"] = "login.unavailable"
	case errors.As(err, &oe) && oe.Code == oci.CodeUnauthorized:
		p.Errors["password"] = "login.invalid"
	case err != nil:
		return err
	}
	if len(p.Errors) > 0 {
		return u.invalid(w, r, "login", p)
	}
	if err := u.startSession(w, r, subj); err != nil {
		return err
	}
	u.log.InfoContext(r.Context(), "ui: logged in", "user", subj.Name, "source", subj.Source)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// logout serves POST /ui/logout: the session ends on every instance;
// a single sign-on user is then sent to the provider's logout when it
// offers one and auth.oidc.logout is on (RP-initiated logout).
func (u *UI) logout(w http.ResponseWriter, r *http.Request) error {
	if u.auth != nil {
		sso := ssoSource(r)
		if err := u.endSession(w, r); err != nil {
			return err
		}
		if sso && u.sso != nil {
			back := strings.TrimSuffix(u.auth.SSORedirectURL(r), auth.SSOCallbackPath) + "/ui/"
			if to := u.sso.LogoutURL(r.Context(), back); to != "" {
				http.Redirect(w, r, to, http.StatusSeeOther)
				return nil
			}
		}
	}
	return u.done(w, r, "/ui/", "flash.logged_out")
}

// setLang serves POST /ui/lang: the language switch, remembered in a
// cookie for a year.
func (u *UI) setLang(w http.ResponseWriter, r *http.Request) error {
	l := r.PostFormValue("lang")
	if !validLang(l) {
		return manage.BadRequest("unknown language")
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, Secure: u.secure(r)})
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}
