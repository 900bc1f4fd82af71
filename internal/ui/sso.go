package ui

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/oidc"
	"github.com/berth-registry/berth/internal/config"
)

// SSO is single sign-on through an OpenID Connect provider
// (*oidc.Provider); nil when auth.mode has no oidc.
type SSO interface {
	// Name is the provider's name for "Sign in with ...".
	Name() string
	// Start returns the provider's URL to send the browser to and the
	// flow to keep for the callback.
	Start(ctx context.Context, redirectURL string) (string, oidc.Flow, error)
	// Finish checks the callback's code against the flow and returns who
	// logged in.
	Finish(ctx context.Context, redirectURL, code string, f oidc.Flow) (auth.ExternalIdentity, error)
	// LogoutURL ends the session at the provider too, or is "".
	LogoutURL(ctx context.Context, postLogout string) string
}

// ssoCookie keeps a login in progress (state, nonce, PKCE verifier and
// where to go next) between the redirect to the provider and the
// callback: HttpOnly, only under /ui/oidc/, for ten minutes. The state in
// it must equal the callback's, so a login cannot be started in another's
// browser; the nonce must be in the ID token, so a token cannot be
// replayed into this login.
const ssoCookie = "berth_oidc"

type ssoState struct {
	oidc.Flow
	Next string `json:"next"`
}

// maxSSOCookie bounds the cookie a callback decodes.
const maxSSOCookie = 4096

// decodeSSOState reads the login-in-progress cookie.
func decodeSSOState(v string) (ssoState, error) {
	var st ssoState
	if len(v) > maxSSOCookie {
		return st, errors.New("cookie too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return ssoState{}, err
	}
	st.Next = localPath(st.Next)
	return st, nil
}

// ssoLogin serves GET /ui/oidc/login?next=: the redirect to the provider.
func (u *UI) ssoLogin(w http.ResponseWriter, r *http.Request) error {
	if u.sso == nil || u.auth == nil {
		return errNotFound
	}
	next := localPath(r.URL.Query().Get("next"))
	to, flow, err := u.sso.Start(r.Context(), u.auth.SSORedirectURL(r))
	if err != nil {
		return u.ssoFailed(w, r, next, err)
	}
	b, _ := json.Marshal(ssoState{Flow: flow, Next: next})
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/ui/oidc/",
		MaxAge: 600, HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// ssoCallback serves GET /ui/oidc/callback?code=&state=: the provider's
// answer; a session when the login is good.
func (u *UI) ssoCallback(w http.ResponseWriter, r *http.Request) error {
	if u.sso == nil || u.auth == nil {
		return errNotFound
	}
	var st ssoState
	c, err := r.Cookie(ssoCookie)
	if err == nil {
		st, err = decodeSSOState(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Path: "/ui/oidc/", MaxAge: -1, HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	switch {
	case err != nil || st.State == "":
		return u.ssoFailed(w, r, "/ui/", errors.New("no login in progress in this browser (or it took over ten minutes)"))
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1:
		return u.ssoFailed(w, r, st.Next, errors.New("the state does not match this browser's login"))
	case q.Get("error") != "":
		return u.ssoFailed(w, r, st.Next, errors.New("the provider answered "+q.Get("error")+": "+q.Get("error_description")))
	}
	id, err := u.sso.Finish(r.Context(), u.auth.SSORedirectURL(r), q.Get("code"), st.Flow)
	if err != nil {
		return u.ssoFailed(w, r, st.Next, err)
	}
	api.Info(r).User = id.Username
	subj, err := u.auth.ExternalLogin(r.Context(), id)
	if err != nil {
		return u.ssoFailed(w, r, st.Next, err)
	}
	if err := u.startSession(w, r, subj); err != nil {
		return err
	}
	u.log.InfoContext(r.Context(), "ui: logged in", "user", subj.Name, "source", subj.Source, "groups", len(subj.Groups))
	http.Redirect(w, r, localPath(st.Next), http.StatusSeeOther)
	return nil
}

// ssoFailed shows the login page with what went wrong with single
// sign-on: the provider cannot be reached (503), or the login was
// refused (403); the details go to the log.
func (u *UI) ssoFailed(w http.ResponseWriter, r *http.Request, next string, err error) error {
	p := u.page(r, "login.title")
	p.Form = map[string]string{"next": localPath(next)}
	status, msg := http.StatusForbidden, "login.sso_failed"
	var fe *auth.FieldError
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		status, msg = http.StatusServiceUnavailable, "login.sso_unavailable"
	case errors.Is(err, auth.ErrNotOnboarded):
		msg = "login.sso_not_onboarded"
	case errors.Is(err, auth.ErrNameTaken):
		msg = "login.sso_name_taken"
	case errors.Is(err, auth.ErrDisabled):
		msg = "login.sso_disabled"
	case errors.As(err, &fe):
		msg = "login.sso_bad_name"
	}
	u.log.InfoContext(r.Context(), "ui: single sign-on refused", "reason", err.Error(), "remote", u.auth.ClientAddr(r))
	p.Errors = map[string]string{"sso": msg}
	p.Data = u.loginData()
	u.render(w, r, status, "login", p)
	return nil
}

// loginData is what the login page offers: passwords (when a source of
// users checks them) and single sign-on.
type loginData struct {
	Passwords bool
	SSOName   string
}

func (u *UI) loginData() loginData {
	d := loginData{Passwords: u.auth != nil && u.auth.HasPasswords()}
	if u.sso != nil {
		d.SSOName = u.sso.Name()
	}
	return d
}

// ssoSource reports whether the viewer logged in through single sign-on.
func ssoSource(r *http.Request) bool {
	s := auth.SubjectOf(r)
	return s != nil && s.Source == config.AuthOIDC
}
