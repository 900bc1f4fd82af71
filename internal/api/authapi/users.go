package authapi

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
)

type userJSON struct {
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	Disabled  bool      `json:"disabled"`
	SSO       bool      `json:"sso"` // signs in through single sign-on, no password here
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUser(u meta.User) userJSON {
	return userJSON{Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, SSO: u.PasswordHash == meta.ExternalPassword, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// ListUsers serves GET /api/v1/users: the builtin users.
func (h *Handlers) ListUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := h.mgr.Users(r.Context())
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, toUser(u))
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}

// CreateUser serves POST /api/v1/users {"name","password","admin","sso"?}.
func (h *Handlers) CreateUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Admin    bool   `json:"admin"`
		// SSO: a user of single sign-on, without a password; linked at
		// their first login (auth.oidc.auto_onboard off).
		SSO bool `json:"sso"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	var err error
	switch {
	case in.SSO && in.Password != "":
		return manage.BadRequest("a single sign-on user has no password")
	case in.SSO:
		err = h.mgr.CreateExternalUser(r.Context(), in.Name, in.Admin)
	default:
		err = h.mgr.CreateUser(r.Context(), in.Name, in.Password, in.Admin)
	}
	if err != nil {
		return apiErr(err)
	}
	u, err := h.mgr.User(r.Context(), in.Name)
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusCreated, toUser(u))
}

// GetUser serves GET /api/v1/users/{user}.
func (h *Handlers) GetUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.mgr.User(r.Context(), r.PathValue("user"))
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, toUser(u))
}

// UpdateUser serves PATCH /api/v1/users/{user} {"password"?, "admin"?,
// "disabled"?}.
func (h *Handlers) UpdateUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password string `json:"password"`
		Admin    *bool  `json:"admin"`
		Disabled *bool  `json:"disabled"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	name := r.PathValue("user")
	if err := h.mgr.UpdateUser(r.Context(), name, in.Password, in.Admin); err != nil {
		return apiErr(err)
	}
	if in.Disabled != nil {
		if err := h.mgr.SetDisabled(r.Context(), name, *in.Disabled); err != nil {
			return apiErr(err)
		}
	}
	u, err := h.mgr.User(r.Context(), name)
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, toUser(u))
}

// DeleteUser serves DELETE /api/v1/users/{user}.
func (h *Handlers) DeleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := h.mgr.DeleteUser(r.Context(), r.PathValue("user")); err != nil {
		return apiErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
