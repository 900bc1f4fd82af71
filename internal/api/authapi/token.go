package authapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/oci"
)

// tokenResponse is the token endpoint's answer. Docker's specification
// names the token "token", OAuth2 "access_token": both are sent.
type tokenResponse struct {
	Token        string `json:"token,omitempty"`
	AccessToken  string `json:"access_token"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// maxForm bounds a token request body.
const maxForm = 64 << 10

// GetToken serves GET /token: a token for the scope parameters, for the
// user of the Basic credentials or for anonymous. offline_token=true adds
// a refresh token (docker login stores it as its identity token).
// Spec: https://distribution.github.io/distribution/spec/auth/token/
func (h *Handlers) GetToken(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := h.checkService(q.Get("service")); err != nil {
		return err
	}
	c, ok := auth.ParseAuthorization(r.Header.Get("Authorization"))
	if !ok || c.Scheme == "bearer" {
		return basicChallenge(oci.NewError(oci.CodeUnauthorized, "send HTTP Basic credentials, or none for anonymous access"))
	}
	var subj *auth.Subject
	if c.Scheme == "basic" {
		var err error
		if subj, err = h.auth.Login(r.Context(), c.Username, c.Password, h.auth.ClientAddr(r)); err != nil {
			return basicChallenge(err)
		}
	}
	return h.writeToken(w, r, subj, q["scope"], q.Get("offline_token") == "true", "", false)
}

// PostToken serves POST /token: the OAuth2 password and refresh_token
// grants (form encoded), as docker with an identity token, containerd
// and others send them. access_type=offline adds a refresh token.
// Spec: https://distribution.github.io/distribution/spec/auth/oauth/
func (h *Handlers) PostToken(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return manage.BadRequest("invalid form: " + err.Error())
	}
	f := r.PostForm
	if err := h.checkService(f.Get("service")); err != nil {
		return err
	}
	var subj *auth.Subject
	var err error
	refresh := ""
	switch f.Get("grant_type") {
	case "password":
		user, pw := f.Get("username"), f.Get("password")
		if user == "" {
			return manage.BadRequest("username is required with grant_type password")
		}
		subj, err = h.auth.Login(r.Context(), user, pw, h.auth.ClientAddr(r))
	case "refresh_token":
		refresh = f.Get("refresh_token")
		if refresh == "" {
			return manage.BadRequest("refresh_token is required with grant_type refresh_token")
		}
		subj, err = h.auth.Refresh(r.Context(), refresh)
	default:
		return manage.BadRequest("grant_type must be password or refresh_token")
	}
	if err != nil {
		return err
	}
	offline := f.Get("access_type") == "offline"
	return h.writeToken(w, r, subj, strings.Fields(f.Get("scope")), offline && refresh == "", refresh, true)
}

// writeToken grants the requested scopes to subj and writes the tokens.
func (h *Handlers) writeToken(w http.ResponseWriter, r *http.Request, subj *auth.Subject, scopes []string, offline bool, refresh string, oauth bool) error {
	ctx := r.Context()
	if subj != nil {
		api.Info(r).User = subj.Name
	}
	requested, err := auth.ParseScopes(scopes)
	if err != nil {
		return manage.BadRequest(err.Error())
	}
	access, err := h.auth.Grant(ctx, subj, requested)
	if err != nil {
		return err
	}
	tok, err := h.auth.IssueToken(ctx, subj, access)
	if err != nil {
		return err
	}
	resp := tokenResponse{Token: tok.Token, AccessToken: tok.Token, ExpiresIn: tok.ExpiresIn,
		IssuedAt: tok.IssuedAt.UTC().Format(time.RFC3339), RefreshToken: refresh}
	if oauth {
		var granted []string
		for _, a := range access {
			granted = append(granted, a.String())
		}
		resp.Scope = strings.Join(granted, " ")
	}
	if offline && !subj.Anonymous() {
		if resp.RefreshToken, err = h.refreshToken(ctx, subj); err != nil {
			return err
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	return manage.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handlers) refreshToken(ctx context.Context, subj *auth.Subject) (string, error) {
	rt, err := h.auth.IssueRefreshToken(ctx, subj)
	return rt.Token, err
}

// checkService refuses tokens for another service.
func (h *Handlers) checkService(s string) error {
	if s != "" && s != h.auth.ServiceName() {
		return manage.BadRequest("unknown service " + s + "; this registry is " + h.auth.ServiceName())
	}
	return nil
}

// JWKS serves the public keys of the token signing keys (RFC 7517).
func (h *Handlers) JWKS(w http.ResponseWriter, r *http.Request) error {
	body := h.auth.JWKS(r.Context())
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=60")
	_, err := w.Write(body)
	return err
}

// basicError is a 401 of the token endpoint, asking for Basic credentials.
type basicError struct{ oe *oci.Error }

func (e basicError) Error() string     { return e.oe.Error() }
func (e basicError) Unwrap() error     { return e.oe }
func (e basicError) Challenge() string { return `Basic realm="Berth"` }

func basicChallenge(err error) error {
	oe, ok := err.(*oci.Error)
	if !ok || oe.Code != oci.CodeUnauthorized {
		return err
	}
	return basicError{oe}
}
