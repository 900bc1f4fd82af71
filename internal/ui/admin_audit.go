package ui

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/audit"
)

// auditFilters are the query parameters of the audit page, as
// GET /api/v1/audit takes them.
var auditFilters = []string{"user", "action", "repository", "since", "until", "n"}

// adminAuditData is the audit page's data.
type adminAuditData struct {
	Events []auditRow
	// Next is the URL of the next (older) page, "" on the last.
	Next string
}

// auditRow is an audit line with its time parsed, for .L.Date.
type auditRow struct {
	audit.Line
	At time.Time
}

// adminAudit serves GET /ui/admin/audit?user=&action=&repository=&since=&until=&before=&n=:
// the audit log with the API's filters and paging (every page is a
// link), as GET /api/v1/audit.
func (u *UI) adminAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := formPage(u.page(r, "admin.audit_title"))
	for _, f := range auditFilters {
		p.Form[f] = q.Get(f)
	}
	d := adminAuditData{}
	p.Data = &d
	f, err := audit.ParseFilter(q)
	var fe *audit.FilterError
	if errors.As(err, &fe) {
		field, key := fe.Param, "admin.audit_time_invalid"
		if fe.Param == "n" || fe.Param == "before" {
			field, key = "n", "admin.audit_number_invalid"
		}
		p.Errors[field] = key
		return u.invalid(w, r, "admin_audit", p)
	}
	lines, err := audit.Query(r.Context(), u.svc.Admin.Audit, f)
	if err != nil {
		return err
	}
	d.Events = make([]auditRow, len(lines))
	for i, l := range lines {
		d.Events[i].Line = l
		d.Events[i].At, _ = time.Parse(time.RFC3339Nano, l.Timestamp)
	}
	if len(d.Events) == f.Limit && len(d.Events) > 0 {
		next := q
		next.Set("before", strconv.FormatInt(d.Events[len(d.Events)-1].ID, 10))
		d.Next = "/ui/admin/audit?" + next.Encode()
	}
	return u.show(w, r, "admin_audit", p)
}
