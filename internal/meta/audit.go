package meta

import (
	"context"
	"strings"
	"time"
)

// AuditEvent is one entry of the audit log: who did what to which
// artifact, when, from where, and whether it worked. It never holds a
// secret.
type AuditEvent struct {
	ID         int64
	Time       time.Time
	Action     string // pull, push, delete, login, or a management action such as user.create
	User       string // subject; "" for anonymous
	Repository string
	Reference  string // tag or digest the client named, or the object of a management action
	Digest     string
	Status     string // success or failure
	HTTPStatus int
	Duration   time.Duration
	ClientIP   string
	RequestID  string
	// Requests is 0 for one request recorded in full; n >= 1 for n
	// successful pulls aggregated (audit.pulls: aggregate): same
	// repository, reference, digest, user and client address in the
	// minute starting at Time, Duration their mean, RequestID empty.
	Requests int64
}

// Pulls is how many requests the event stands for: 1, or Requests of an
// aggregate.
func (e AuditEvent) Pulls() int64 { return max(1, e.Requests) }

// AuditFilter selects audit events; zero fields do not filter.
type AuditFilter struct {
	User       string
	Action     string
	Repository string
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	Before     int64     // only events with a smaller ID (paging backwards)
	Limit      int       // at most this many, newest first
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// AppendAudit records events, all or none.
	AppendAudit(ctx context.Context, events []AuditEvent) error
	// AuditEvents returns the events matching f, newest first.
	AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// PurgeAudit deletes events older than before and says how many went.
	PurgeAudit(ctx context.Context, before time.Time) (int64, error)
}

// AuditQuery is the SELECT of the events matching f, newest first, with
// its arguments; placeholder(i) writes the dialect's i-th parameter ("?"
// or "$i"). Both stores run it.
func AuditQuery(f AuditFilter, placeholder func(i int) string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+placeholder(len(args)))
	}
	if f.User != "" {
		add("username = ", f.User)
	}
	if f.Action != "" {
		add("action = ", f.Action)
	}
	if f.Repository != "" {
		add("repository = ", f.Repository)
	}
	if !f.Since.IsZero() {
		add("at >= ", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("at < ", f.Until.UnixNano())
	}
	if f.Before > 0 {
		add("id < ", f.Before)
	}
	q := `SELECT id, at, action, username, repository, reference, digest, status, http_status, duration_ns,
		client_ip, request_id, requests FROM audit_events`
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
