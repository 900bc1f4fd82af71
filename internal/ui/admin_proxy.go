package ui

import (
	"math"
	"net/http"

	"github.com/berth-registry/berth/internal/proxy"
)

// upstreamRow is an upstream with its hit rates in whole percent.
type upstreamRow struct {
	proxy.UpstreamStatus
	ManifestPct, BlobPct int64
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
	}
	p := u.page(r, "admin.proxy_title")
	p.Data = rows
	return u.show(w, r, "admin_proxy", p)
}
