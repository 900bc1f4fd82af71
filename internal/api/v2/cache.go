package v2

import "net/http"

// Cache-Control of pull responses. Blobs and manifests by digest are
// content-addressed: what a URL returns never changes, so any cache may
// keep it for a year without asking again (immutable). Only a public
// repository's may be kept by a shared cache (a proxy or CDN in front);
// a private repository's are marked private, which lets the client's own
// cache keep them but no shared one, since it would hand them to anyone.
// A response by tag changes when the tag moves: no-cache makes every
// cache ask again (the ETag makes that a 304) and keeps nginx from
// storing it at all.
const (
	cachePublic  = "public, max-age=31536000, immutable"
	cachePrivate = "private, max-age=31536000, immutable"
	cacheByTag   = "no-cache"
)

// Publicity is an optional capability of an Authorizer: whether anyone may
// pull repo without credentials.
type Publicity interface {
	Public(r *http.Request, repo string) bool
}

// immutableCache is the Cache-Control of a blob or a manifest by digest
// of repo: public when anyone may pull it (without access control,
// everyone may), private otherwise.
func (h *Handlers) immutableCache(r *http.Request, repo string) string {
	if h.authz == nil {
		return cachePublic
	}
	if p, ok := h.authz.(Publicity); ok && p.Public(r, repo) {
		return cachePublic
	}
	return cachePrivate
}
