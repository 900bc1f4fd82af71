package app

import (
	"context"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/trust"
)

// newTrust builds the signature policy service (docs/signing.md): a pull
// gate and an OnPush hook of the registry service. The caller, their role
// and the audit log are read when a pull is decided (auth and audit are
// built after the registry service).
func (a *App) newTrust(store meta.Store) *trust.Service {
	return trust.New(store, a.blobs, trust.Options{
		Caller: func(ctx context.Context) (string, string, bool) {
			subj := auth.SubjectFromContext(ctx)
			if subj.Anonymous() {
				return "", "", false
			}
			return string(subj.Kind), subj.Name, subj.Admin
		},
		RoleOf: func(ctx context.Context, project string) string {
			if a.auth == nil {
				return ""
			}
			role, err := a.auth.ProjectRole(ctx, auth.SubjectFromContext(ctx), project)
			if err != nil {
				a.log.Warn("looking up a role for a signature policy exemption", "error", err)
			}
			return role
		},
		Record: func(e meta.AuditEvent) {
			if a.audit != nil {
				a.audit.Record(e)
			}
		},
	}, a.log)
}
