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
	"sync"

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

// views are the templates, one per view: the layout plus the view's file
// (plus the shared partials). A view is parsed on its first render and
// kept: parsing all of them at start took about a third of the server's
// start-up CPU and 8 MiB of heap that an API-only instance never uses
// (docs/performance.md). TestViewsParse parses every view, so a broken
// template still fails the build's tests, not a user's first visit.
type views struct {
	funcs    template.FuncMap
	files    map[string]string // view name -> its template file
	partials []string

	mu     sync.Mutex
	parsed map[string]*template.Template
}

// newViews lists the views; parsing waits for each view's first use.
func newViews(a *assets) (*views, error) {
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
	v := &views{funcs: funcs, files: map[string]string{}, partials: partials, parsed: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name != "layout" {
			v.files[name] = n
		}
	}
	if _, ok := v.files["error"]; !ok {
		return nil, fmt.Errorf("ui: no error template")
	}
	return v, nil
}

// get returns the parsed view, parsing it on first use; ok is false when
// there is no such view.
func (v *views) get(name string) (t *template.Template, ok bool, err error) {
	file, ok := v.files[name]
	if !ok {
		return nil, false, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if t := v.parsed[name]; t != nil {
		return t, true, nil
	}
	files := append([]string{"templates/layout.html", file}, v.partials...)
	t, err = template.New("layout.html").Funcs(v.funcs).ParseFS(templateFS, files...)
	if err != nil {
		return nil, true, fmt.Errorf("ui: template %s: %w", name, err)
	}
	v.parsed[name] = t
	return t, true, nil
}

// render writes a view with status. It renders into a buffer first, so a
// template error becomes a clean 500 page, not half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, view string, p *Page) {
	t, ok, err := u.views.get(view)
	if !ok {
		err = fmt.Errorf("ui: no such view")
	}
	var buf bytes.Buffer
	if err == nil {
		err = t.Execute(&buf, p)
	}
	if err != nil {
		u.log.ErrorContext(r.Context(), "ui: rendering failed", "view", view, "error", err)
		buf.Reset()
		status = http.StatusInternalServerError
		p.Title, p.Data = "error.500.title", errorData{Status: 500, Message: "error.500.text"}
		et, _, err := u.views.get("error")
		if err == nil {
			err = et.Execute(&buf, p)
		}
		if err != nil {
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
