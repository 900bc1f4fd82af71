package ui

import (
	"math"
	"net/http"

	"github.com/berth-registry/berth/internal/proxy"
)

// upstreamRow is an upstream with its hit rates in whole percent and,
// if it has sync rules, its sync job.
type upstreamRow struct {
	proxy.UpstreamStatus
	ManifestPct, BlobPct int64
	Sync                 *proxy.SyncStatus
}

// adminProxy serves GET /ui/admin/proxy: the pull-through cache's
// upstreams with their cache size and hit rates, as
// GET /api/v1/proxy/upstreams.
func (u *UI) adminProxy(w http.ResponseWriter, r *http.Request) error {
	list, err := u.svc.Admin.Proxy.Upstreams(r)
	if err != nil {
		return err
	}
	rows := make([]upstreamRow, len(list))
	for i, s := range list {
		rows[i] = upstreamRow{UpstreamStatus: s, ManifestPct: int64(math.Round(s.ManifestHitRate * 100)), BlobPct: int64(math.Round(s.BlobHitRate * 100))}
		if u.svc.Admin.ProxySync.Syncs(s.Name) {
			if rows[i].Sync, err = u.svc.Admin.ProxySync.Status(r.Context(), s.Name); err != nil {
				return err
			}
		}
	}
	p := u.page(r, "admin.proxy_title")
	p.Data = rows
	return u.show(w, r, "admin_proxy", p)
}

// adminProxySync serves POST /ui/admin/proxy/sync {upstream}: runs the
// upstream's sync rules now, as POST /api/v1/proxy/upstreams/{name}/sync.
func (u *UI) adminProxySync(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.svc.Admin.ProxySync.Request(r.Context(), r.PostFormValue("upstream")); err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/proxy", "flash.admin_sync_requested")
}
