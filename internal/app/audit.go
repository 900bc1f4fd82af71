package app

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/meta"
)

// auditActions names the audit action of the /v2/ and token routes that
// are audited; management API routes are audited when they change
// something (any method but GET), under their route name. Manifest HEADs
// (the "has it changed?" checks clients make constantly) and blob GETs
// (a pull is its manifest GET) are not audited.
var auditActions = map[string]string{
	"manifest_get":    "pull",
	"manifest_put":    "push",
	"manifest_delete": "delete",
	"blob_delete":     "delete",
	"upload_start":    "push", // audited only when refused: the manifest PUT records the push
	"token":           "login",
}

// auditAction returns the action to record for a finished request, or "".
func auditAction(r *http.Request, route string, status int) string {
	if status == http.StatusUnauthorized && r.Header.Get("Authorization") == "" {
		return "" // the challenge that starts every authenticated exchange
	}
	if action, ok := auditActions[route]; ok {
		if route == "upload_start" && status < 400 {
			return ""
		}
		if route == "token" && r.Method == http.MethodGet && r.Header.Get("Authorization") == "" {
			return "" // an anonymous token: no login
		}
		return action
	}
	if strings.HasPrefix(r.URL.Path, "/api/") && r.Method != http.MethodGet && r.Method != http.MethodHead && route != "" {
		return route
	}
	// The web UI's forms, under their route names (ui_login,
	// ui_delete_tag, ...); the language switch changes nothing.
	if strings.HasPrefix(r.URL.Path, "/ui/") && r.Method == http.MethodPost && route != "" && route != "ui_lang" {
		return route
	}
	return ""
}

// auditRequest records the request in the audit log if it is audited.
func (a *App) auditRequest(r *http.Request, info *api.RequestInfo, status int, digest string, elapsed time.Duration) {
	if a.audit == nil {
		return
	}
	action := auditAction(r, info.Route, status)
	if action == "" {
		return
	}
	result := "success"
	if status >= 400 {
		result = "failure"
	}
	ref := info.Ref
	if ref == "" && strings.HasPrefix(r.URL.Path, "/api/") {
		ref = strings.TrimPrefix(r.URL.Path, "/api/v1/")
	}
	if ref == "" && strings.HasPrefix(r.URL.Path, "/ui/") {
		ref = strings.TrimPrefix(r.URL.Path, "/ui/")
	}
	a.audit.Record(meta.AuditEvent{
		Time: time.Now().Add(-elapsed), Action: action, User: requestUser(r, status), Repository: info.Repo,
		Reference: ref, Digest: digest, Status: result, HTTPStatus: status, Duration: elapsed,
		ClientIP: a.clientIP(r), RequestID: info.ID,
	})
}

// requestUser is the authenticated subject of a request, as the auth
// middleware recorded it; for a refused Basic login, the user name it tried
// (never the password); "" for anonymous requests or with access control off.
func requestUser(r *http.Request, status int) string {
	if u := api.Info(r).User; u != "" {
		return u
	}
	if status == http.StatusUnauthorized || status == http.StatusTooManyRequests {
		if u, _, ok := r.BasicAuth(); ok {
			return u
		}
	}
	return ""
}

// clientIP is the address the request came from: behind a trusted proxy
// (http.trusted_proxies), the client X-Forwarded-For names.
func (a *App) clientIP(r *http.Request) string {
	if a.auth != nil {
		return a.auth.ClientAddr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// auditEvents serves GET /api/v1/audit: the newest events matching the
// filters user, action, repository, since and until (RFC 3339), before (an
// event id, for the next page) and n (at most 1000).
func (a *App) auditEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := meta.AuditFilter{User: q.Get("user"), Action: q.Get("action"), Repository: q.Get("repository")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return manage.BadRequest(p.name + ": not an RFC 3339 time: " + v)
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"before", &f.Before}, {"n", nil}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return manage.BadRequest(p.name + ": not a positive integer: " + v)
		}
		if p.dst != nil {
			*p.dst = n
		} else {
			f.Limit = int(min(n, 1000))
		}
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	events, err := a.meta.AuditEvents(r.Context(), f)
	if err != nil {
		return err
	}
	lines := make([]audit.Line, len(events))
	for i, e := range events {
		lines[i] = audit.ToLine(e)
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"events": lines})
}
