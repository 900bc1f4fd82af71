package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// staticPrefix is where the assets are served, under content-hashed names
// (berth.1a2b3c4d5e6f.css), so they can be cached forever.
const staticPrefix = "/ui/static/"

type asset struct {
	body []byte
	typ  string
}

// assets are the embedded static files by hashed name, with a map from
// the plain name to the hashed URL for templates ({{asset "berth.css"}}).
type assets struct {
	byHash map[string]asset
	urls   map[string]string
}

func loadAssets() (*assets, error) {
	a := &assets{byHash: map[string]asset{}, urls: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := path.Base(p)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.byHash[hashed] = asset{body: b, typ: assetType(ext)}
		a.urls[name] = staticPrefix + hashed
		return nil
	})
	return a, err
}

// assetTypes are the content types of the embedded assets' extensions. A
// fixed table, not mime.TypeByExtension: that one reads the system's MIME
// databases on first use (2 MiB of heap kept for the process's life) and
// answers differently from one machine to the next. TestAssetTypes checks
// that every embedded file has its type here.
var assetTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".ico": "image/x-icon",
}

// assetType is the content type for an asset's extension.
func assetType(ext string) string {
	if t, ok := assetTypes[ext]; ok {
		return t
	}
	return "application/octet-stream"
}

// url is the hashed URL of a static file ("" when there is none).
func (a *assets) url(name string) string { return a.urls[name] }

// serve answers GET /ui/static/{name}: a known hashed name is immutable.
func (a *assets) serve(w http.ResponseWriter, r *http.Request) error {
	f, ok := a.byHash[r.PathValue("name")]
	if !ok {
		return errNotFound
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	return nil
}

// favicon answers GET /favicon.ico, which browsers ask for when a
// response has no <link rel="icon"> (the API's JSON, images opened
// directly): the same SVG as the pages' hashed icon, cached for a day.
func (a *assets) favicon(w http.ResponseWriter, r *http.Request) error {
	f, ok := a.byHash[strings.TrimPrefix(a.url("favicon.svg"), staticPrefix)]
	if !ok {
		return errNotFound
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	return nil
}
