package authapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Me serves GET /api/v1/me: who the caller is.
func (h *Handlers) Me(w http.ResponseWriter, r *http.Request) error {
	s := subject(r)
	if s == nil {
		return manage.WriteJSON(w, http.StatusOK, map[string]any{"name": "", "kind": "anonymous"})
	}
	groups := s.Groups
	if groups == nil {
		groups = []string{}
	}
	ms, err := h.mgr.Memberships(r.Context(), s)
	if err != nil {
		return err
	}
	projects := make([]membershipJSON, 0, len(ms))
	for _, m := range ms {
		projects = append(projects, membershipJSON{Project: m.Project, Role: m.Role, Kind: m.Kind, Name: m.Name})
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{
		"name": s.Name, "kind": string(s.Kind), "admin": s.Admin, "groups": groups, "source": s.Source, "projects": projects})
}

// membershipJSON is one of the caller's roles: in project, as the user
// member (kind user) or through a group (kind group, name the group).
type membershipJSON struct {
	Project string `json:"project"`
	Role    string `json:"role"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
}

// builtinUser returns the caller's name when they are a builtin user.
func (h *Handlers) builtinUser(r *http.Request) (string, error) {
	name, err := h.mgr.BuiltinUser(r.Context(), subject(r))
	if errors.Is(err, auth.ErrNotBuiltin) {
		return "", forbidden(err.Error())
	}
	return name, err
}

// tokenUser returns the caller's name when they may hold access tokens
// (builtin and single sign-on users).
func (h *Handlers) tokenUser(r *http.Request) (string, error) {
	name, err := h.mgr.TokenUser(r.Context(), subject(r))
	if errors.Is(err, auth.ErrNotBuiltin) {
		return "", forbidden(err.Error())
	}
	return name, err
}

// SetMyPassword serves PUT /api/v1/me/password {"password"}.
func (h *Handlers) SetMyPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	name, err := h.builtinUser(r)
	if err != nil {
		return err
	}
	if in.Password == "" {
		return manage.BadRequest("password is required")
	}
	if err := h.mgr.UpdateUser(r.Context(), name, in.Password, nil); err != nil {
		return apiErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Token     string     `json:"token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

func toToken(t meta.AccessToken) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, ExpiresAt: optTime(t.ExpiresAt), CreatedAt: t.CreatedAt}
}

// ListMyTokens serves GET /api/v1/me/tokens.
func (h *Handlers) ListMyTokens(w http.ResponseWriter, r *http.Request) error {
	name, err := h.tokenUser(r)
	if err != nil {
		return err
	}
	ts, err := h.mgr.AccessTokens(r.Context(), name)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, toToken(t))
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}

// CreateMyToken serves POST /api/v1/me/tokens {"name","expires_at"?|"expires_in"?}:
// a personal access token, shown this once.
func (h *Handlers) CreateMyToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
		ExpiresIn string     `json:"expires_in"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	name, err := h.tokenUser(r)
	if err != nil {
		return err
	}
	exp, err := expiry(in.ExpiresAt, in.ExpiresIn)
	if err != nil {
		return err
	}
	token, t, err := h.mgr.CreateAccessToken(r.Context(), name, in.Name, exp)
	if err != nil {
		return apiErr(err)
	}
	out := toToken(t)
	out.Token = token
	return manage.WriteJSON(w, http.StatusCreated, out)
}

// DeleteMyToken serves DELETE /api/v1/me/tokens/{id}.
func (h *Handlers) DeleteMyToken(w http.ResponseWriter, r *http.Request) error {
	name, err := h.tokenUser(r)
	if err != nil {
		return err
	}
	if err := h.mgr.DeleteAccessToken(r.Context(), name, r.PathValue("id")); err != nil {
		return apiErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GetSettings serves GET /api/v1/settings.
func (h *Handlers) GetSettings(w http.ResponseWriter, r *http.Request) error {
	return manage.WriteJSON(w, http.StatusOK, map[string]string{auth.SettingProjectCreation: h.projectCreation(r)})
}

func (h *Handlers) projectCreation(r *http.Request) string {
	if h.auth == nil {
		return auth.CreationUsers
	}
	return h.auth.ProjectCreation(r.Context())
}

// UpdateSettings serves PATCH /api/v1/settings {"project_creation": "admins"|"users"}.
func (h *Handlers) UpdateSettings(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ProjectCreation string `json:"project_creation"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	if in.ProjectCreation != "" {
		if err := h.mgr.SetProjectCreation(r.Context(), in.ProjectCreation); err != nil {
			return apiErr(err)
		}
	}
	return h.GetSettings(w, r)
}

// RotateKey serves POST /api/v1/auth/keys/rotate: a new token signing key;
// with the optional body {"revoke": true} the old keys are dropped, so the
// tokens they signed stop working at once.
func (h *Handlers) RotateKey(w http.ResponseWriter, r *http.Request) error {
	if h.auth == nil {
		return manage.BadRequest("access control is off (auth.mode: none)")
	}
	var in struct {
		Revoke bool `json:"revoke"`
	}
	if r.ContentLength != 0 {
		if err := manage.ReadJSON(r, &in); err != nil {
			return err
		}
	}
	kid, err := h.auth.RotateKey(r.Context(), in.Revoke)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"kid": kid, "revoked": in.Revoke})
}

// SigningKeys serves GET /api/v1/auth/keys: the token signing keys, newest
// first, without their private parts.
func (h *Handlers) SigningKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := h.mgr.SigningKeys(r.Context())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
}
