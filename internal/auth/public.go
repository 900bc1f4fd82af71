package auth

import (
	"errors"
	"net/http"

	"github.com/berth-registry/berth/internal/meta"
)

// Public reports whether anyone, without credentials, may pull repo: the
// responses of such a repository may be kept by shared caches (a proxy or
// CDN in front), those of others only by the client's own. A request that
// CheckRepo already let pull repo anonymously proves it without a read;
// any other looks the project up.
func (s *Service) Public(r *http.Request, repo string) bool {
	if id := identityOf(r); id.anonPull != "" && id.anonPull == repo {
		return true
	}
	p, err := s.store.Project(r.Context(), ProjectOf(repo))
	if err != nil {
		if !errors.Is(err, meta.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "reading a project's visibility", "repo", repo, "error", err)
		}
		return false // when in doubt, private
	}
	return p.Public
}
