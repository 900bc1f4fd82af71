package anomaly

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Page sizes of a findings query (n).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// FilterError is a query parameter of a findings query that cannot be
// read.
type FilterError struct {
	Param, Value string
	Want         string // "RFC 3339 time", "positive integer" or the list of kinds
}

func (e *FilterError) Error() string {
	return e.Param + ": not " + e.Want + ": " + e.Value
}

// ParseFilter reads the filters of a findings query, as GET
// /api/v1/anomalies and the web UI's anomalies page take them: identity
// (e.g. user:alice, robot:robot$ci, addr:10.1.2.3, repo:team/app), kind,
// since (RFC 3339), before (a finding id, for the next page) and n (at
// most MaxLimit, default DefaultLimit). The error is a *FilterError.
func ParseFilter(q url.Values) (meta.AnomalyFilter, error) {
	f := meta.AnomalyFilter{Identity: q.Get("identity"), Kind: q.Get("kind"), Limit: DefaultLimit}
	if f.Kind != "" && !validKind(f.Kind) {
		return f, &FilterError{Param: "kind", Value: f.Kind, Want: "one of " + strings.Join(Kinds, ", ")}
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, &FilterError{Param: "since", Value: v, Want: "an RFC 3339 time"}
		}
		f.Since = t
	}
	for _, name := range []string{"before", "n"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, &FilterError{Param: name, Value: v, Want: "a positive integer"}
		}
		if name == "before" {
			f.Before = n
		} else {
			f.Limit = int(min(n, MaxLimit))
		}
	}
	return f, nil
}

// Findings returns the stored findings matching f, newest first.
func (d *Detector) Findings(ctx context.Context, f meta.AnomalyFilter) ([]meta.AnomalyFinding, error) {
	return d.store.AnomalyFindings(ctx, f)
}

func validKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}
