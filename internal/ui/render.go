package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/registry"
)

//go:embed templates
var templateFS embed.FS

// Viewer is who looks at a page.
type Viewer struct {
	Name     string
	Admin    bool
	LoggedIn bool
}

// Page is what every template gets: the localizer, the viewer, and the
// view's own data.
type Page struct {
	L      *Localizer
	Viewer Viewer
	// AuthOn is false with auth.mode none: no log-in, everything visible.
	AuthOn bool
	// Title is the catalog key of the page title.
	Title string
	// Path is the current URL (path and query), for the language switch
	// and log-in to come back to.
	Path string
	// Flash is the catalog key of a message from the previous action.
	Flash string
	// Errors maps a form field to the catalog key of its error.
	Errors map[string]string
	// Form holds the submitted values to show again beside their errors.
	Form map[string]string
	// Data is the view's own data.
	Data any
}

// views are the parsed templates, one per view: the layout plus the
// view's file (plus the shared partials), parsed once at start.
type views map[string]*template.Template

func parseViews(a *assets) (views, error) {
	funcs := template.FuncMap{
		"asset":       a.url,
		"shortDigest": shortDigest,
		"add":         func(a, b int) int { return a + b },
		"pathEscape":  pathEscape,
		"repoURL":     repoURL,
		"artifactURL": artifactURL,
		"join":        strings.Join,
		"words":       strings.Fields, // pull commands break between words only (berth.css, table.pulls)
		"usage":       newUsage,
		"artifactKind": func(t string) string { // "" for images
			if imageConfigTypes[t] {
				return ""
			}
			return t
		},
		"subtree":       func(repo string, items []registry.Referrer) refTree { return refTree{Repo: repo, Items: items} },
		"severityClass": severityClass,
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	partials, err := fs.Glob(templateFS, "templates/partials/*.html")
	if err != nil {
		return nil, err
	}
	v := views{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		files := append([]string{"templates/layout.html", n}, partials...)
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		v[name] = t
	}
	return v, nil
}

// render writes a view with status. It renders into a buffer first, so a
// template error becomes a clean 500 page, not half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, view string, p *Page) {
	t, ok := u.views[view]
	if !ok {
		u.log.ErrorContext(r.Context(), "ui: no such view", "view", view)
		status, t = http.StatusInternalServerError, u.views["error"]
		p.Title, p.Data = "error.500.title", errorData{Status: 500, Message: "error.500.text"}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		u.log.ErrorContext(r.Context(), "ui: rendering failed", "view", view, "error", err)
		buf.Reset()
		status = http.StatusInternalServerError
		p.Title, p.Data = "error.500.title", errorData{Status: 500, Message: "error.500.text"}
		if err := u.views["error"].Execute(&buf, p); err != nil {
			http.Error(w, "internal error", status)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// usageBar is a usage against an optional limit, for the "usage" partial.
type usageBar struct {
	L       *Localizer
	Used    int64
	Limit   int64
	High    int64 // 90% of the limit
	Limited bool
}

func newUsage(l *Localizer, used, limit int64, has bool) usageBar {
	return usageBar{L: l, Used: used, Limit: limit, High: limit / 10 * 9, Limited: has && limit > 0}
}

// shortDigest is the first 12 hex digits of a digest ("sha256:" dropped).
func shortDigest(d any) string {
	s := fmt.Sprint(d)
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

// pathEscape escapes each component of a repository name for a URL path,
// keeping the slashes.
func pathEscape(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
