// Package manage is the plumbing of Berth's JSON management API under
// /api/v1/: its route table entry (method, pattern, the permission the
// caller needs, handler), JSON helpers, and mounting onto a ServeMux.
// Features add their handlers in their own files (or packages) and their
// entries to the table in internal/app/routes.go. Errors are written by
// api.WriteError as {"errors":[{"code","message"}]}, as on /v2/.
package manage

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/oci"
)

// Permission is what a management route requires of its caller. The
// authorizer (internal/auth, when configured) checks it before the handler
// runs; with authentication off every caller passes.
type Permission int

// Permissions, weakest first.
const (
	// PermPublic: anyone, even anonymous.
	PermPublic Permission = iota
	// PermAuthenticated: any signed-in user or robot.
	PermAuthenticated
	// PermProjectRead: a member of the project named by the {project} path value
	// (any role), or anyone for a public project.
	PermProjectRead
	// PermProjectAdmin: the project admin of the {project} path value.
	PermProjectAdmin
	// PermSystemAdmin: a system administrator.
	PermSystemAdmin
)

// Route is one entry of the management route table.
type Route struct {
	Name    string // label in logs and metrics, e.g. "gc_start"
	Method  string
	Pattern string // http.ServeMux pattern without the method, e.g. "/api/v1/projects/{project}"
	Perm    Permission
	Handle  api.HandlerFunc
}

// Authorizer checks a route's permission for a request; nil lets all pass.
type Authorizer func(r *http.Request, perm Permission) error

// Mount registers the routes on mux, each checking its permission with
// authz before its handler runs.
func Mount(mux *http.ServeMux, routes []Route, authz Authorizer, log *slog.Logger) {
	for _, rt := range routes {
		mux.HandleFunc(rt.Method+" "+rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			api.Info(r).Route = rt.Name
			if authz != nil {
				if err := authz(r, rt.Perm); err != nil {
					api.WriteError(w, r, log, err)
					return
				}
			}
			if err := rt.Handle(w, r); err != nil {
				api.WriteError(w, r, log, err)
			}
		})
	}
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

// maxBody bounds a management request body.
const maxBody = 1 << 20

// ReadJSON decodes the request body into v, refusing unknown fields, trailing
// data and bodies over 1 MiB, with a 400 naming the problem.
func ReadJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return BadRequest(fmt.Sprintf("invalid JSON body: %v", err))
	}
	if dec.More() {
		return BadRequest("invalid JSON body: trailing data")
	}
	return nil
}

// Codes of management API errors that OCI does not define.
const (
	CodeNotFound oci.Code = "NOT_FOUND"
	CodeConflict oci.Code = "CONFLICT"
)

// NotFound is a 404 error with msg.
func NotFound(msg string) error {
	return &oci.Error{Code: CodeNotFound, Message: msg, Status: http.StatusNotFound}
}

// Conflict is a 409 error with msg (the thing exists, or is in use).
func Conflict(msg string) error {
	return &oci.Error{Code: CodeConflict, Message: msg, Status: http.StatusConflict}
}

// BadRequest is a 400 error with msg.
func BadRequest(msg string) error {
	return &oci.Error{Code: oci.CodeUnsupported, Message: msg, Status: http.StatusBadRequest}
}
