package ui

import (
	"cmp"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/registry"
)

// repoData is the repository page's data: a page of tags (or of untagged
// manifests, or of referrers), with what the viewer may do.
type repoData struct {
	Name      string
	Project   string
	Tags      []registry.TagDetail
	Manifests []meta.ManifestSummary
	Total     int
	Kind      string // "", meta.ManifestsUntagged or meta.ManifestsReferrers
	Query     registry.TagQuery
	Sorts     []string
	Prev      string
	Next      string
	CanDelete bool
	CanPush   bool
	Host      string
}

// authorizeRepo checks that r may read repo's project, with the
// management API's PermProjectRead (public project, member, admin).
func (u *UI) authorizeRepo(r *http.Request, repo string) error {
	r.SetPathValue("project", auth.ProjectOf(repo))
	return u.access.Authorize(r, manage.PermProjectRead)
}

// splitRef splits the {ref...} of a repository URL: "team/app" or
// "team/app@sha256:...".
func splitRef(ref string) (name, dgst string, err error) {
	name, dgst, _ = strings.Cut(ref, "@")
	if !oci.ValidName(name) {
		return "", "", errNotFound
	}
	return name, dgst, nil
}

// repository serves GET /ui/repositories/{name}: its tags, with digest,
// platforms, size, push and pull times (GET /api/v1/projects/{project}/
// repositories/{repository}), or with "@digest" the artifact page.
func (u *UI) repository(w http.ResponseWriter, r *http.Request) error {
	name, dgst, err := splitRef(r.PathValue("ref"))
	if err != nil {
		return err
	}
	if err := u.authorizeRepo(r, name); err != nil {
		return err
	}
	if dgst != "" {
		return u.artifact(w, r, name, dgst)
	}
	p := u.page(r, "repository.title")
	d, err := u.repoData(r, name)
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "repository", p)
}

func (u *UI) repoData(r *http.Request, name string) (*repoData, error) {
	ctx := r.Context()
	qv := r.URL.Query()
	offset, _ := strconv.Atoi(qv.Get("offset"))
	d := &repoData{Name: name, Project: auth.ProjectOf(name), Kind: qv.Get("kind"), Host: r.Host,
		Query:     registry.TagQuery{Filter: qv.Get("q"), Sort: qv.Get("sort"), Offset: max(offset, 0), Limit: pageSize},
		Sorts:     []string{registry.TagSortName, registry.TagSortSemver, registry.TagSortPushed},
		CanDelete: u.access.Allowed(r, name, auth.ActionDelete), CanPush: u.access.Allowed(r, name, auth.ActionPush)}
	var err error
	if d.Kind != "" {
		d.Manifests, err = u.svc.Registry.Manifests(ctx, name, d.Kind, registry.MaxBrowsePage)
	} else {
		var page registry.TagPage
		page, err = u.svc.Registry.TagList(ctx, name, d.Query)
		d.Tags, d.Total = page.Tags, page.Total
		d.Prev, d.Next = pager(r.URL, d.Query.Offset, d.Query.Limit, d.Total)
	}
	if errors.Is(err, registry.ErrInvalidQuery) {
		return nil, manage.BadRequest(err.Error())
	}
	return d, err
}

// changeRepository serves POST /ui/repositories/{name}[@digest] with
// action delete_tag (tag), delete_manifest (confirm) or add_tag (tag):
// the same service calls as DELETE and PUT on /v2/, under the same
// permissions (delete, push).
func (u *UI) changeRepository(w http.ResponseWriter, r *http.Request) error {
	name, dgst, err := splitRef(r.PathValue("ref"))
	if err != nil {
		return err
	}
	if err := u.authorizeRepo(r, name); err != nil {
		return err
	}
	ctx := r.Context()
	tag := strings.TrimSpace(r.PostFormValue("tag"))
	action := r.PostFormValue("action")
	// The audit log records the change as ui_<action> on the repository.
	info := api.Info(r)
	info.Repo, info.Ref = name, cmp.Or(dgst, tag)
	if action == "delete_tag" || action == "delete_manifest" || action == "add_tag" {
		info.Route = "ui_" + action
	}
	switch action {
	case "scan":
		return u.requestScan(w, r, name, dgst)
	case "delete_tag":
		if !u.access.Allowed(r, name, auth.ActionDelete) {
			return errForbidden
		}
		if !oci.ValidTag(tag) {
			return errNotFound
		}
		if err := u.svc.Registry.DeleteManifest(ctx, name, tag); err != nil {
			return u.repoActionError(w, r, name, dgst, err)
		}
		return u.done(w, r, repoURL(name), "flash.tag_deleted")
	case "delete_manifest":
		if !u.access.Allowed(r, name, auth.ActionDelete) {
			return errForbidden
		}
		if dgst == "" {
			return errNotFound
		}
		if r.PostFormValue("confirm") != "yes" {
			return u.artifactForm(w, r, name, dgst, "confirm", "artifact.confirm_required", "")
		}
		if err := u.svc.Registry.DeleteManifest(ctx, name, dgst); err != nil {
			return u.repoActionError(w, r, name, dgst, err)
		}
		return u.done(w, r, repoURL(name), "flash.manifest_deleted")
	case "add_tag":
		if !u.access.Allowed(r, name, auth.ActionPush) {
			return errForbidden
		}
		if dgst == "" {
			return errNotFound
		}
		d, err := oci.ParseDigest(dgst)
		if err != nil {
			return errNotFound
		}
		if !oci.ValidTag(tag) {
			return u.artifactForm(w, r, name, dgst, "tag", "artifact.tag_invalid", tag)
		}
		if err := u.svc.Registry.TagManifest(ctx, name, d, tag); err != nil {
			return u.repoActionError(w, r, name, dgst, err)
		}
		return u.done(w, r, artifactURL(name, dgst), "flash.tag_added")
	}
	return manage.BadRequest("unknown action")
}

// repoActionError shows a refusal of the registry (delete disabled, an
// immutable tag, a quota) beside the form; other errors are pages.
func (u *UI) repoActionError(w http.ResponseWriter, r *http.Request, name, dgst string, err error) error {
	var oe *oci.Error
	key := ""
	switch {
	case errors.Is(err, registry.ErrUnsupported):
		key = "repository.delete_disabled"
	case errors.Is(err, policy.ErrTagImmutable):
		key = "repository.tag_immutable"
	case errors.Is(err, policy.ErrQuotaExceeded):
		key = "repository.quota_exceeded"
	case errors.Is(err, registry.ErrInvalidQuery), errors.Is(err, registry.ErrTagInvalid):
		key = "artifact.tag_invalid"
	case errors.As(err, &oe) && oe.HTTPStatus() < 500 && oe.HTTPStatus() != http.StatusNotFound:
		key = "repository.refused"
	default:
		return err
	}
	u.log.InfoContext(r.Context(), "ui: change refused", "repo", name, "error", err)
	if dgst != "" {
		return u.artifactForm(w, r, name, dgst, "action", key, "")
	}
	p := u.page(r, "repository.title")
	d, derr := u.repoData(r, name)
	if derr != nil {
		return derr
	}
	p.Data = d
	p.Errors = map[string]string{"action": key}
	return u.invalid(w, r, "repository", p)
}
