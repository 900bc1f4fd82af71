package ui

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// userData is the user page's data.
type userData struct {
	Name    string
	Source  string
	Admin   bool
	Groups  []string
	Builtin bool // has a password here
	// Tokenable: may hold access tokens (builtin and single sign-on users).
	Tokenable bool
	SSO       bool // signs in through single sign-on
	// MaxDays bounds a token's lifetime (auth.access_tokens.max_ttl); 0:
	// no bound.
	MaxDays int
	Roles   []memberRow
	Tokens  []meta.AccessToken
	// NewToken is a token just created, shown this once.
	NewToken, NewTokenName string
}

// user serves GET /ui/user: the viewer's account, roles and access
// tokens, as GET /api/v1/me and /api/v1/me/tokens.
func (u *UI) user(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "user.title"))
	d, err := u.userData(r)
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "user", p)
}

func (u *UI) userData(r *http.Request) (*userData, error) {
	ctx, s := r.Context(), auth.SubjectOf(r)
	d := &userData{}
	if s == nil {
		return d, nil // access control is off: no account
	}
	d.Name, d.Source, d.Admin, d.Groups = s.Name, s.Source, s.Admin, s.Groups
	ms, err := u.svc.Manager.Memberships(ctx, s)
	if err != nil {
		return nil, err
	}
	d.Roles = memberRows(ms)
	d.SSO = s.Source == config.AuthOIDC
	d.MaxDays = int(u.svc.Manager.TokenMaxTTL() / (24 * time.Hour))
	name, err := u.svc.Manager.TokenUser(ctx, s)
	if errors.Is(err, auth.ErrNotBuiltin) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	d.Tokenable = true
	_, err = u.svc.Manager.BuiltinUser(ctx, s)
	d.Builtin = err == nil
	d.Tokens, err = u.svc.Manager.AccessTokens(ctx, name)
	return d, err
}

// userForm renders the user page again with a form's errors (422).
func (u *UI) userForm(w http.ResponseWriter, r *http.Request, p *Page) error {
	d, err := u.userData(r)
	if err != nil {
		return err
	}
	p.Data = d
	return u.invalid(w, r, "user", p)
}

// builtinName is the viewer's name if they are a builtin user; others
// have no password here (403, as the API answers).
func (u *UI) builtinName(r *http.Request) (string, error) {
	name, err := u.svc.Manager.BuiltinUser(r.Context(), auth.SubjectOf(r))
	if errors.Is(err, auth.ErrNotBuiltin) {
		return "", errForbidden
	}
	return name, err
}

// tokenName is the viewer's name if they may hold access tokens (builtin
// and single sign-on users; 403 for others, as the API answers).
func (u *UI) tokenName(r *http.Request) (string, error) {
	name, err := u.svc.Manager.TokenUser(r.Context(), auth.SubjectOf(r))
	if errors.Is(err, auth.ErrNotBuiltin) {
		return "", errForbidden
	}
	return name, err
}

// userPassword serves POST /ui/user/password {password, confirm}, as
// PUT /api/v1/me/password.
func (u *UI) userPassword(w http.ResponseWriter, r *http.Request) error {
	name, err := u.builtinName(r)
	if err != nil {
		return err
	}
	p := formPage(u.page(r, "user.title"))
	pw := r.PostFormValue("password")
	switch {
	case pw == "":
		p.Errors["password"] = "user.password_required"
	case pw != r.PostFormValue("confirm"):
		p.Errors["confirm"] = "user.password_mismatch"
	}
	if len(p.Errors) > 0 {
		return u.userForm(w, r, p)
	}
	err = u.svc.Manager.UpdateUser(r.Context(), name, pw, nil)
	if fieldError(p, err, map[string][2]string{"password": {"password", "user.password_invalid"}}) {
		return u.userForm(w, r, p)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/user", "flash.user_password_changed")
}

// userTokenCreate serves POST /ui/user/tokens {name, expires_days}, as
// POST /api/v1/me/tokens; the page shows the token this once.
func (u *UI) userTokenCreate(w http.ResponseWriter, r *http.Request) error {
	name, err := u.tokenName(r)
	if err != nil {
		return err
	}
	p := formPage(u.page(r, "user.title"))
	tname, days := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("expires_days")
	p.Form["token_name"], p.Form["expires_days"] = tname, days
	exp, ok := expiryDays(days, u.now())
	if !ok {
		p.Errors["expires_days"] = "user.expiry_invalid"
		return u.userForm(w, r, p)
	}
	token, _, err := u.svc.Manager.CreateAccessToken(r.Context(), name, tname, exp)
	expiryMsg := "user.expiry_invalid"
	if u.svc.Manager.TokenMaxTTL() > 0 {
		expiryMsg = "user.expiry_max" // the only expiry a whole number of days can break
	}
	if fieldError(p, err, map[string][2]string{"name": {"token_name", "user.token_name_invalid"}, "expires": {"expires_days", expiryMsg}}) {
		return u.userForm(w, r, p)
	}
	if err != nil {
		return err
	}
	d, err := u.userData(r)
	if err != nil {
		return err
	}
	d.NewToken, d.NewTokenName = token, tname
	p.Form = map[string]string{}
	p.Data = d
	return u.show(w, r, "user", p)
}

// userTokenDelete serves POST /ui/user/tokens/delete {id}, as
// DELETE /api/v1/me/tokens/{id}.
func (u *UI) userTokenDelete(w http.ResponseWriter, r *http.Request) error {
	name, err := u.tokenName(r)
	if err != nil {
		return err
	}
	if err := u.svc.Manager.DeleteAccessToken(r.Context(), name, r.PostFormValue("id")); err != nil {
		return err
	}
	return u.done(w, r, "/ui/user", "flash.user_token_revoked")
}
