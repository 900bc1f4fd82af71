package meta

import (
	"context"
	"strings"
	"time"
)

// AnomalyProfile is the rolling baseline of one subject of pull-anomaly
// detection (an identity or a repository, internal/anomaly), stored as
// the detector encodes it.
type AnomalyProfile struct {
	Key  string // e.g. "user:alice", "robot:robot$ci", "addr:10.1.2.3", "repo:team/app"
	Data []byte // opaque to the store
}

// AnomalyFinding is an abnormal pull pattern the detector found.
type AnomalyFinding struct {
	ID         int64
	Time       time.Time // of the event that completed the pattern
	Kind       string    // burst, new_network, off_hours, failed_pulls, robot_networks
	Identity   string    // the profile key: user:..., robot:..., addr:..., repo:...
	Repository string    // the repository concerned, if one
	ClientIP   string    // the address of the last event, if one
	Reason     string    // human-readable: what was seen against which baseline
	EventID    int64     // the audit event that completed the pattern
}

// AnomalyFilter selects findings; zero fields do not filter.
type AnomalyFilter struct {
	Identity string
	Kind     string
	Since    time.Time // inclusive
	Before   int64     // only findings with a smaller ID (paging backwards)
	Limit    int       // at most this many (default and cap 1000), newest first
}

// AnomalyBatch is what one aggregation step writes, all or nothing: the
// profiles it changed, the findings it made, and how far in the audit log
// it has read.
type AnomalyBatch struct {
	Cursor   int64 // the last audit event id folded into the profiles
	Profiles []AnomalyProfile
	Findings []AnomalyFinding
}

// AnomalyStore keeps the detector's baselines, its position in the audit
// log and its findings.
type AnomalyStore interface {
	// PullEventsAfter looks at up to limit audit events with an id above
	// after, in id order, and returns the pulls among them and the id of
	// the last event it looked at (after itself when there was none).
	PullEventsAfter(ctx context.Context, after int64, limit int) (events []AuditEvent, last int64, err error)
	// AnomalyCursor is the cursor the last SaveAnomalyBatch stored (0 at first).
	AnomalyCursor(ctx context.Context) (int64, error)
	// AnomalyProfiles returns the stored profiles of the keys that have one.
	AnomalyProfiles(ctx context.Context, keys []string) (map[string]AnomalyProfile, error)
	// SaveAnomalyBatch stores a batch's profiles (replacing those of the
	// same keys), findings and cursor in one transaction.
	SaveAnomalyBatch(ctx context.Context, b AnomalyBatch) error
	// AnomalyFindings returns the findings matching f, newest first.
	AnomalyFindings(ctx context.Context, f AnomalyFilter) ([]AnomalyFinding, error)
}

// AnomalyQuery is the SELECT of the findings matching f, newest first,
// with its arguments; placeholder(i) writes the dialect's i-th parameter.
// Both stores run it.
func AnomalyQuery(f AnomalyFilter, placeholder func(i int) string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+placeholder(len(args)))
	}
	if f.Identity != "" {
		add("identity = ", f.Identity)
	}
	if f.Kind != "" {
		add("kind = ", f.Kind)
	}
	if !f.Since.IsZero() {
		add("at >= ", f.Since.UnixNano())
	}
	if f.Before > 0 {
		add("id < ", f.Before)
	}
	q := `SELECT id, at, kind, identity, repository, client_ip, reason, event_id FROM anomaly_findings`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	n := f.Limit
	if n <= 0 || n > 1000 {
		n = 1000
	}
	args = append(args, n)
	return q + " ORDER BY id DESC LIMIT " + placeholder(len(args)), args
}
