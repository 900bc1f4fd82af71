package ui

import "net/http"

// homeData is the home page's data.
type homeData struct {
	Query string
}

// home serves GET / and GET /ui/: the search box.
func (u *UI) home(w http.ResponseWriter, r *http.Request) error {
	p := u.page(r, "home.title")
	p.Data = homeData{}
	return u.show(w, r, "home", p)
}
