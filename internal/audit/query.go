package audit

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Query limits: a page holds DefaultLimit events unless n asks for up to
// MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// FilterError is a query parameter of an audit query that cannot be read.
type FilterError struct {
	Param, Value string
	Want         string // "RFC 3339 time" or "positive integer"
}

func (e *FilterError) Error() string {
	return e.Param + ": not a " + e.Want + ": " + e.Value
}

// ParseFilter reads the filters of an audit query, as GET /api/v1/audit
// and the web UI's audit page take them: user, action, repository, since
// and until (RFC 3339), before (an event id, for the next page) and n (at
// most MaxLimit, DefaultLimit when absent).
func ParseFilter(q url.Values) (meta.AuditFilter, error) {
	f := meta.AuditFilter{User: q.Get("user"), Action: q.Get("action"), Repository: q.Get("repository"), Limit: DefaultLimit}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, &FilterError{Param: p.name, Value: v, Want: "RFC 3339 time"}
			}
			*p.dst = t
		}
	}
	for _, name := range []string{"before", "n"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, &FilterError{Param: name, Value: v, Want: "positive integer"}
		}
		if name == "before" {
			f.Before = n
		} else {
			f.Limit = int(min(n, MaxLimit))
		}
	}
	return f, nil
}

// Query returns the events matching f, newest first, in their JSON form.
func Query(ctx context.Context, store meta.AuditStore, f meta.AuditFilter) ([]Line, error) {
	events, err := store.AuditEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	lines := make([]Line, len(events))
	for i, e := range events {
		lines[i] = ToLine(e)
	}
	return lines, nil
}
