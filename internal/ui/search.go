package ui

import (
	"errors"
	"net/http"

	"github.com/berth-registry/berth/internal/registry"
)

// searchData is the search page's data.
type searchData struct {
	Query  string
	Result *registry.SearchResult
}

// searchLimit is how many hits of each kind the page lists.
const searchLimit = 50

// search serves GET /ui/search?q=: a digest, name:tag or name@digest that
// names one artifact goes straight to it; anything else lists the
// projects, repositories, tags and digests that match, among what the
// viewer may see (GET /api/v1/search).
func (u *UI) search(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("q")
	p := u.page(r, "search.title")
	d := searchData{Query: q}
	p.Data = &d
	if q == "" {
		return u.show(w, r, "search", p)
	}
	visible, err := u.access.Visible(r)
	if err != nil {
		return err
	}
	res, err := u.svc.Registry.Search(r.Context(), q, visible, searchLimit)
	if errors.Is(err, registry.ErrInvalidQuery) {
		p.Errors = map[string]string{"q": "search.invalid"}
		return u.invalid(w, r, "search", p)
	}
	if err != nil {
		return err
	}
	if j := res.Jump; j != nil {
		http.Redirect(w, r, artifactURL(j.Repository, j.Digest.String()), http.StatusSeeOther)
		return nil
	}
	d.Result = res
	return u.show(w, r, "search", p)
}

// repoURL and artifactURL are the UI's addresses of a repository and of
// one of its manifests.
func repoURL(name string) string { return "/ui/repositories/" + pathEscape(name) }

func artifactURL(name, dgst string) string { return repoURL(name) + "@" + dgst }
