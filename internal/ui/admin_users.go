package ui

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/meta"
)

// adminUsersData is the users page's data.
type adminUsersData struct {
	Users []meta.User
	Self  string // the viewer, who cannot delete themselves here
}

// adminUsers serves GET /ui/admin/users: the builtin users, as
// GET /api/v1/users.
func (u *UI) adminUsers(w http.ResponseWriter, r *http.Request) error {
	return u.adminUsersPage(w, r, formPage(u.page(r, "admin.users_title")), http.StatusOK)
}

func (u *UI) adminUsersPage(w http.ResponseWriter, r *http.Request, p *Page, status int) error {
	users, err := u.svc.Manager.Users(r.Context())
	if err != nil {
		return err
	}
	p.Data = adminUsersData{Users: users, Self: viewer(r).Name}
	if status != http.StatusOK {
		return u.invalid(w, r, "admin_users", p)
	}
	return u.show(w, r, "admin_users", p)
}

// adminUserCreate serves POST /ui/admin/users {name, password, admin}, as
// POST /api/v1/users.
func (u *UI) adminUserCreate(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "admin.users_title"))
	name, pw, admin := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password"), r.PostFormValue("admin") != ""
	p.Form["name"] = name
	if admin {
		p.Form["admin"] = "1"
	}
	err := u.svc.Manager.CreateUser(r.Context(), name, pw, admin)
	switch {
	case fieldError(p, err, map[string][2]string{"name": {"name", "admin.user_name_invalid"}, "password": {"password", "admin.password_invalid"}}):
	case isExists(err):
		p.Errors["name"] = "admin.user_exists"
	case err != nil:
		return err
	default:
		return u.done(w, r, "/ui/admin/users", "flash.admin_user_created")
	}
	return u.adminUsersPage(w, r, p, http.StatusUnprocessableEntity)
}

// adminUserSetAdmin serves POST /ui/admin/users/admin {user, admin}, as
// PATCH /api/v1/users/{user} {"admin"}.
func (u *UI) adminUserSetAdmin(w http.ResponseWriter, r *http.Request) error {
	name, admin := r.PostFormValue("user"), r.PostFormValue("admin") == "1"
	p := formPage(u.page(r, "admin.users_title"))
	err := u.svc.Manager.UpdateUser(r.Context(), name, "", &admin)
	if fieldError(p, err, map[string][2]string{"admin": {"user_" + name, "admin.last_admin"}}) {
		return u.adminUsersPage(w, r, p, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/users", "flash.admin_user_saved")
}

// adminUserDisable serves POST /ui/admin/users/disable {user, disabled}:
// disables (1) or enables (0) a user, as PATCH /api/v1/users/{user}
// {"disabled"}.
func (u *UI) adminUserDisable(w http.ResponseWriter, r *http.Request) error {
	name, disabled := r.PostFormValue("user"), r.PostFormValue("disabled") == "1"
	p := formPage(u.page(r, "admin.users_title"))
	err := u.svc.Manager.SetDisabled(r.Context(), name, disabled)
	if fieldError(p, err, map[string][2]string{"admin": {"user_" + name, "admin.last_admin"}}) {
		return u.adminUsersPage(w, r, p, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/users", "flash.admin_user_saved")
}

// adminUserPassword serves POST /ui/admin/users/password {user, password}:
// a new password set by an administrator, as PATCH /api/v1/users/{user}
// {"password"}.
func (u *UI) adminUserPassword(w http.ResponseWriter, r *http.Request) error {
	name, pw := r.PostFormValue("user"), r.PostFormValue("password")
	p := formPage(u.page(r, "admin.users_title"))
	if pw == "" {
		p.Errors["user_"+name] = "admin.password_required"
		return u.adminUsersPage(w, r, p, http.StatusUnprocessableEntity)
	}
	err := u.svc.Manager.UpdateUser(r.Context(), name, pw, nil)
	if fieldError(p, err, map[string][2]string{"password": {"user_" + name, "admin.password_invalid"}}) {
		return u.adminUsersPage(w, r, p, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/users", "flash.admin_password_reset")
}

// adminUserDelete serves POST /ui/admin/users/delete {user}, as
// DELETE /api/v1/users/{user}: their memberships, tokens and sessions go too.
func (u *UI) adminUserDelete(w http.ResponseWriter, r *http.Request) error {
	name := r.PostFormValue("user")
	p := formPage(u.page(r, "admin.users_title"))
	err := u.svc.Manager.DeleteUser(r.Context(), name)
	if fieldError(p, err, map[string][2]string{"admin": {"user_" + name, "admin.last_admin"}}) {
		return u.adminUsersPage(w, r, p, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/users", "flash.admin_user_deleted")
}
