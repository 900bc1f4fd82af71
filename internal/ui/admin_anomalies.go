package ui

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/anomaly"
	"github.com/berth-registry/berth/internal/meta"
)

// anomalyFilters are the query parameters of the anomalies page, as
// GET /api/v1/anomalies takes them.
var anomalyFilters = []string{"identity", "kind", "since", "n"}

// adminAnomaliesData is the anomalies page's data.
type adminAnomaliesData struct {
	Findings []meta.AnomalyFinding
	Kinds    []string
	// Next is the URL of the next (older) page, "" on the last.
	Next string
}

// adminAnomalies serves GET /ui/admin/anomalies?identity=&kind=&since=&before=&n=:
// the pull-anomaly findings with the API's filters and paging (every
// page is a link), as GET /api/v1/anomalies (docs/operations.md,
// "Pull-anomaly detection").
func (u *UI) adminAnomalies(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := formPage(u.page(r, "admin.anomalies_title"))
	for _, f := range anomalyFilters {
		p.Form[f] = q.Get(f)
	}
	d := adminAnomaliesData{Kinds: anomaly.Kinds}
	p.Data = &d
	f, err := anomaly.ParseFilter(q)
	var fe *anomaly.FilterError
	if errors.As(err, &fe) {
		switch fe.Param {
		case "kind":
			p.Errors["kind"] = "admin.anomalies_kind_invalid"
		case "since":
			p.Errors["since"] = "admin.audit_time_invalid"
		default: // n, before
			p.Errors["n"] = "admin.audit_number_invalid"
		}
		return u.invalid(w, r, "admin_anomalies", p)
	}
	if d.Findings, err = u.svc.Admin.Anomalies.Findings(r.Context(), f); err != nil {
		return err
	}
	if len(d.Findings) == f.Limit && len(d.Findings) > 0 {
		next := q
		next.Set("before", strconv.FormatInt(d.Findings[len(d.Findings)-1].ID, 10))
		d.Next = "/ui/admin/anomalies?" + next.Encode()
	}
	return u.show(w, r, "admin_anomalies", p)
}
