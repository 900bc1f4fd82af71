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
}

// adminSystem serves GET /ui/admin: version, drivers, uptime and counts,
// as GET /api/v1/system.
func (u *UI) adminSystem(w http.ResponseWriter, r *http.Request) error {
	in, err := u.svc.Admin.System.Info(r.Context())
	if err != nil {
		return err
	}
	p := u.page(r, "admin.system_title")
	up := time.Duration(in.UptimeSeconds) * time.Second
	p.Data = adminSystemData{Info: in, Days: int(up / (24 * time.Hour)), Hours: int(up % (24 * time.Hour) / time.Hour),
		Minutes: int(up % time.Hour / time.Minute)}
	return u.show(w, r, "admin_system", p)
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
// POST /api/v1/auth/keys/rotate.
func (u *UI) adminKeysRotate(w http.ResponseWriter, r *http.Request) error {
	if u.auth == nil {
		return errNotFound // no tokens to sign with access control off
	}
	if _, err := u.auth.RotateKey(r.Context()); err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/keys", "flash.admin_key_rotated")
}
