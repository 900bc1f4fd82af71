package ui

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/sysinfo"
)

// adminSystemData is the system page's data: the instance and its uptime
// in days, hours and minutes.
type adminSystemData struct {
	Info                 sysinfo.Info
	Days, Hours, Minutes int
	// ProjectCreation is the project_creation setting ("" with access
	// control off: anyone creates projects).
	ProjectCreation string
	Creations       []option
}

// creations are the values of the project_creation setting.
var creations = []option{
	{auth.CreationAdmins, "admin.creation_admins"},
	{auth.CreationUsers, "admin.creation_users"},
}

// adminSystem serves GET /ui/admin: version, drivers, uptime and counts,
// as GET /api/v1/system, and the settings, as GET /api/v1/settings.
func (u *UI) adminSystem(w http.ResponseWriter, r *http.Request) error {
	return u.adminSystemPage(w, r, formPage(u.page(r, "admin.system_title")))
}

func (u *UI) adminSystemPage(w http.ResponseWriter, r *http.Request, p *Page) error {
	in, err := u.svc.Admin.System.Info(r.Context())
	if err != nil {
		return err
	}
	up := time.Duration(in.UptimeSeconds) * time.Second
	p.Data = adminSystemData{Info: in, Days: int(up / (24 * time.Hour)), Hours: int(up % (24 * time.Hour) / time.Hour),
		Minutes: int(up % time.Hour / time.Minute), Creations: creations}
	if u.auth != nil {
		d := p.Data.(adminSystemData)
		d.ProjectCreation = u.auth.ProjectCreation(r.Context())
		p.Data = d
	}
	if len(p.Errors) > 0 {
		return u.invalid(w, r, "admin_system", p)
	}
	return u.show(w, r, "admin_system", p)
}

// adminSettings serves POST /ui/admin/settings {project_creation}, as
// PATCH /api/v1/settings.
func (u *UI) adminSettings(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "admin.system_title"))
	err := u.svc.Manager.SetProjectCreation(r.Context(), r.PostFormValue("project_creation"))
	if fieldError(p, err, map[string][2]string{"project_creation": {"project_creation", "admin.creation_invalid"}}) {
		return u.adminSystemPage(w, r, p)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin", "flash.admin_settings_saved")
}

// adminKeysData is the signing keys page's data.
type adminKeysData struct {
	AuthOn bool
	Keys   []auth.SigningKey
}

// adminKeys serves GET /ui/admin/keys: the token signing keys, as
// GET /api/v1/auth/keys.
func (u *UI) adminKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := u.svc.Manager.SigningKeys(r.Context())
	if err != nil {
		return err
	}
	p := u.page(r, "admin.keys_title")
	p.Data = adminKeysData{AuthOn: u.auth != nil, Keys: keys}
	return u.show(w, r, "admin_keys", p)
}

// adminKeysRotate serves POST /ui/admin/keys/rotate, as
// POST /api/v1/auth/keys/rotate; with revoke=on the old keys stop verifying
// at once (as {"revoke": true}).
func (u *UI) adminKeysRotate(w http.ResponseWriter, r *http.Request) error {
	if u.auth == nil {
		return errNotFound // no tokens to sign with access control off
	}
	if _, err := u.auth.RotateKey(r.Context(), r.PostFormValue("revoke") == "on"); err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/keys", "flash.admin_key_rotated")
}
