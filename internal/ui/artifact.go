package ui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/trust"
)

// artifactData is the artifact page's data.
type artifactData struct {
	*registry.Artifact
	Project        string
	ManifestPretty string
	ConfigPretty   string
	Pulls          []pullCommand
	Referrers      refTree
	// ArtifactType is shown for artifacts, not for images (whose
	// "artifact type" is their config's media type).
	ArtifactType string
	CanDelete    bool
	CanPush      bool
	// Signatures is the verification status under the project's
	// signature rules (nil: no rule covers the repository).
	Signatures *trust.Status
	// Vulnerabilities is the manifest's last scan (scan.go).
	Vulnerabilities scanData
}

// imageConfigTypes are the config media types of images.
var imageConfigTypes = map[string]bool{
	"application/vnd.oci.image.config.v1+json":       true,
	"application/vnd.docker.container.image.v1+json": true,
}

// pullCommand is a copy-ready command of one client, by tag (when the
// artifact has one) and by digest.
type pullCommand struct {
	Tool     string
	ByTag    string
	ByDigest string
}

// refTree is a level of the referrers tree, for the recursive template.
type refTree struct {
	Repo  string
	Items []registry.Referrer
}

// artifact serves GET /ui/repositories/{name}@{digest}: media type,
// manifest and config (pretty, ?raw=manifest|config downloads them),
// layers, build history, platforms of an index, annotations and labels,
// referrers, pull commands (GET /api/v1/projects/{project}/repositories/
// {repository}@{digest}). A tag in place of the digest redirects.
func (u *UI) artifact(w http.ResponseWriter, r *http.Request, name, ref string) error {
	a, err := u.svc.Registry.Artifact(r.Context(), name, ref)
	if err != nil {
		return err
	}
	if ref != a.Digest.String() {
		http.Redirect(w, r, artifactURL(name, a.Digest.String()), http.StatusSeeOther)
		return nil
	}
	if r.URL.Query().Get("view") == "vulnerabilities" {
		return u.scanReport(w, r, name, ref)
	}
	switch r.URL.Query().Get("raw") {
	case "manifest":
		return download(w, a.MediaType, a.Digest.Encoded()+".json", a.Manifest)
	case "config":
		if a.ConfigJSON == nil {
			return errNotFound
		}
		return download(w, "application/json", a.Config.Digest.Encoded()+".json", a.ConfigJSON)
	}
	p := u.page(r, "artifact.title")
	d := u.artifactData(r, name, a)
	if d.Vulnerabilities, err = u.scanFor(r, name, a.Digest.String(), false); err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "artifact", p)
}

func (u *UI) artifactData(r *http.Request, name string, a *registry.Artifact) *artifactData {
	d := &artifactData{Artifact: a, Project: auth.ProjectOf(name),
		ManifestPretty: pretty(a.Manifest), ConfigPretty: pretty(a.ConfigJSON),
		Referrers: refTree{Repo: name, Items: a.Referrers},
		CanDelete: u.access.Allowed(r, name, auth.ActionDelete), CanPush: u.access.Allowed(r, name, auth.ActionPush)}
	if !imageConfigTypes[a.ArtifactType] {
		d.ArtifactType = a.ArtifactType
	}
	d.Pulls = pullCommands(r.Host, name, a)
	if u.svc.Trust != nil {
		// As GET /api/v1/projects/{project}/signing/status; a failure
		// leaves the section out (the page is still useful).
		if st, err := u.svc.Trust.Status(r.Context(), name, a.Digest); err == nil && len(st.Rules) > 0 {
			d.Signatures = st
		} else if err != nil {
			u.log.Warn("signature status", "repo", name, "digest", a.Digest, "error", err)
		}
	}
	return d
}

// artifactForm shows the artifact page again with an error beside a
// form field (422).
func (u *UI) artifactForm(w http.ResponseWriter, r *http.Request, name, ref, field, key, value string) error {
	a, err := u.svc.Registry.Artifact(r.Context(), name, ref)
	if err != nil {
		return err
	}
	p := u.page(r, "artifact.title")
	d := u.artifactData(r, name, a)
	if d.Vulnerabilities, err = u.scanFor(r, name, a.Digest.String(), false); err != nil {
		return err
	}
	p.Data = d
	p.Errors = map[string]string{field: key}
	p.Form = map[string]string{field: value}
	return u.invalid(w, r, "artifact", p)
}

// pullCommands are the pull commands of docker, podman, crane, skopeo and
// oras for the host name the viewer reached the UI at.
func pullCommands(host, name string, a *registry.Artifact) []pullCommand {
	ref := host + "/" + name
	byDigest := ref + "@" + a.Digest.String()
	byTag := ""
	if len(a.Tags) > 0 {
		byTag = ref + ":" + a.Tags[0]
	}
	mk := func(tool, prefix, suffix string) pullCommand {
		c := pullCommand{Tool: tool, ByDigest: prefix + byDigest + suffix}
		if byTag != "" {
			c.ByTag = prefix + byTag + suffix
		}
		return c
	}
	return []pullCommand{
		mk("docker", "docker pull ", ""),
		mk("podman", "podman pull ", ""),
		mk("crane", "crane pull ", " image.tar"),
		mk("skopeo", "skopeo copy docker://", " oci-archive:image.tar"),
		mk("oras", "oras pull ", ""),
	}
}

// pretty indents JSON for reading ("" when b is not JSON).
func pretty(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return ""
	}
	return out.String()
}

// download writes exact bytes as an attachment.
func download(w http.ResponseWriter, mediaType, filename string, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	return err
}
