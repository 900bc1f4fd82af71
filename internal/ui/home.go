package ui

import (
	"net/http"

	"github.com/berth-registry/berth/internal/registry"
)

// homeData is the home page's data.
type homeData struct {
	Recent []registry.TagHit
	// Stats are shown to administrators (and with access control off).
	Stats *registry.Stats
}

// recentOnHome is how many recent pushes the home page lists.
const recentOnHome = 10

// home serves GET / and GET /ui/: the search box, the tags pushed last
// (among what the viewer may see), and the storage used.
func (u *UI) home(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	visible, err := u.access.Visible(r)
	if err != nil {
		return err
	}
	var d homeData
	if d.Recent, err = u.svc.Registry.RecentTags(ctx, visible, recentOnHome); err != nil {
		return err
	}
	if viewer(r).Admin {
		st, err := u.svc.Registry.Stats(ctx)
		if err != nil {
			return err
		}
		d.Stats = &st
	}
	p := u.page(r, "home.title")
	p.Data = d
	return u.show(w, r, "home", p)
}
