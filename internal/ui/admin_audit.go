package ui

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/audit"
)

// auditFilters are the query parameters of the audit page, as
// GET /api/v1/audit takes them.
var auditFilters = []string{"user", "action", "repository", "since", "until", "n"}

// adminAuditData is the audit page's data.
type adminAuditData struct {
	Events []audit.Line
	// Next is the URL of the next (older) page, "" on the last.
	Next string
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
	if d.Events, err = audit.Query(r.Context(), u.svc.Admin.Audit, f); err != nil {
		return err
	}
	if len(d.Events) == f.Limit && len(d.Events) > 0 {
		next := q
		next.Set("before", strconv.FormatInt(d.Events[len(d.Events)-1].ID, 10))
		d.Next = "/ui/admin/audit?" + next.Encode()
	}
	return u.show(w, r, "admin_audit", p)
}
