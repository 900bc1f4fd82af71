// Package scanapi is the management API of vulnerability scanning
// (docs/scanning.md): scan requests, results and reports (Berth's JSON,
// Harbor's report format, CSV), policies with their allowlists, the
// vulnerability database's status, and "scan all". Each handler parses,
// calls the scanning service once, and writes; the route table is in
// internal/app.
package scanapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/scan"
)

// Handlers serve the scanning routes.
type Handlers struct {
	s   *scan.Service
	pub scan.Publisher
}

// New returns the handlers over the scanning service; pub stores SBOM
// referrers.
func New(s *scan.Service, pub scan.Publisher) *Handlers { return &Handlers{s: s, pub: pub} }

// repoRef reads the repository (project/{repository...}) and the
// reference (?reference=, a tag or digest).
func repoRef(r *http.Request) (repo, ref string, err error) {
	repo = r.PathValue("project") + "/" + r.PathValue("repository")
	ref = r.URL.Query().Get("reference")
	if ref == "" {
		return "", "", manage.BadRequest("the reference query parameter (a tag or digest) is required")
	}
	return repo, ref, nil
}

// Scan serves POST /api/v1/projects/{project}/scan/{repository...}?reference=R[&wait=true]:
// 202 when queued, 200 with the result when waited for.
func (h *Handlers) Scan(w http.ResponseWriter, r *http.Request) error {
	repo, ref, err := repoRef(r)
	if err != nil {
		return err
	}
	wait := r.URL.Query().Get("wait") == "true"
	res, err := h.s.Request(r.Context(), repo, ref, wait)
	if err != nil {
		return err
	}
	if res == nil {
		return manage.WriteJSON(w, http.StatusAccepted, map[string]any{"queued": true})
	}
	return manage.WriteJSON(w, http.StatusOK, res)
}

// Result serves GET /api/v1/projects/{project}/scan/{repository...}?reference=R:
// the stored result's summary.
func (h *Handlers) Result(w http.ResponseWriter, r *http.Request) error {
	repo, ref, err := repoRef(r)
	if err != nil {
		return err
	}
	res, err := h.s.Result(r.Context(), repo, ref, false)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, res)
}

// Report serves GET /api/v1/projects/{project}/scan-report/{repository...}?reference=R:
// the whole report, in Berth's JSON, Harbor's format (Accept: the Harbor
// report media type, or ?format=harbor) or CSV (Accept: text/csv, or ?format=csv).
func (h *Handlers) Report(w http.ResponseWriter, r *http.Request) error {
	repo, ref, err := repoRef(r)
	if err != nil {
		return err
	}
	format, err := reportFormat(r)
	if err != nil {
		return err
	}
	res, err := h.s.Result(r.Context(), repo, ref, true)
	if err != nil {
		return err
	}
	switch format {
	case "harbor":
		body, err := json.Marshal(scan.Harbor(repo, res))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", scan.HarborReportMediaType)
		_, err = w.Write(body)
		return err
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "scan-"+res.Digest.Encoded()[:12]+".csv"))
		return scan.WriteCSV(w, res)
	}
	return manage.WriteJSON(w, http.StatusOK, res)
}

// reportFormat picks the report format from ?format= or Accept.
func reportFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "json", "harbor", "csv":
		return f, nil
	case "":
	default:
		return "", manage.BadRequest("format must be json, harbor or csv")
	}
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(a))
		if err != nil {
			continue
		}
		switch {
		case mt == "application/vnd.security.vulnerability.report" && (params["version"] == "" || params["version"] == "1.1"):
			return "harbor", nil
		case mt == "text/csv":
			return "csv", nil
		case mt == "application/json":
			return "json", nil
		}
	}
	return "json", nil
}

// GetPolicy serves GET /api/v1/projects/{project}/scan-policy (and
// GET /api/v1/scan/policy, the system-wide one).
func (h *Handlers) GetPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.s.GetPolicy(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, p)
}

// SetPolicy serves PUT /api/v1/projects/{project}/scan-policy (and
// PUT /api/v1/scan/policy).
func (h *Handlers) SetPolicy(w http.ResponseWriter, r *http.Request) error {
	var p scan.Policy
	if err := manage.ReadJSON(r, &p); err != nil {
		return err
	}
	if err := h.s.SetPolicy(r.Context(), r.PathValue("project"), &p); err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, &p)
}

// Database serves GET /api/v1/scan/database: the loaded vulnerability
// database's version and age.
func (h *Handlers) Database(w http.ResponseWriter, r *http.Request) error {
	return manage.WriteJSON(w, http.StatusOK, h.s.Database())
}

// StopAll serves DELETE /api/v1/scan/all: a running "scan all" stops
// after the repository it is scanning.
func (h *Handlers) StopAll(w http.ResponseWriter, r *http.Request) error {
	if err := h.s.RequestStop(r.Context()); err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusAccepted, map[string]any{"stopping": true})
}

// SBOM serves GET /api/v1/projects/{project}/sbom/{repository...}?reference=R&format=spdx|cyclonedx:
// the image's SBOM (SPDX 2.3 or CycloneDX 1.5 JSON).
func (h *Handlers) SBOM(w http.ResponseWriter, r *http.Request) error {
	repo, ref, err := repoRef(r)
	if err != nil {
		return err
	}
	doc, mt, err := h.s.SBOM(r.Context(), repo, ref, r.URL.Query().Get("format"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mt)
	_, err = w.Write(doc)
	return err
}

// AttachSBOM serves POST /api/v1/projects/{project}/sbom/{repository...}?reference=R&format=spdx|cyclonedx:
// stores the SBOM as a referrer of the image; 201 with its digest.
func (h *Handlers) AttachSBOM(w http.ResponseWriter, r *http.Request) error {
	repo, ref, err := repoRef(r)
	if err != nil {
		return err
	}
	d, err := h.s.AttachSBOM(r.Context(), h.pub, repo, ref, r.URL.Query().Get("format"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusCreated, map[string]any{"digest": d})
}

// Scanners serves GET /api/v1/scan/scanners: the built-in scanner with its
// database, and the configured external scanners with their metadata.
func (h *Handlers) Scanners(w http.ResponseWriter, r *http.Request) error {
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"scanners": h.s.Scanners(r.Context())})
}
