// Package browseapi is the browsing part of the management API
// (docs/api.md, "Browsing"): search, statistics, recent pushes, a
// project's repositories, a repository's tags and an artifact's details.
// The web UI's pages call the same service methods. Each handler parses,
// calls the registry service once, and writes JSON; the route table is in
// internal/app.
package browseapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// Visible returns the filter of repositories a request may see (nil: all).
type Visible func(r *http.Request) (func(repo string) bool, error)

// Handlers serve the browsing routes.
type Handlers struct {
	svc     *registry.Service
	visible Visible
}

// New returns the handlers over the registry service; visible filters
// search results and recent pushes (as the catalog is filtered).
func New(svc *registry.Service, visible Visible) *Handlers {
	return &Handlers{svc: svc, visible: visible}
}

func apiErr(err error) error {
	if errors.Is(err, registry.ErrInvalidQuery) {
		return manage.BadRequest(err.Error())
	}
	return err
}

// intParam reads an optional non-negative integer query parameter.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, manage.BadRequest(name + " must be a non-negative integer")
	}
	return n, nil
}

// Search serves GET /api/v1/search?q=&limit=: projects, repositories,
// tags and digests the caller may see; "jump" names the one artifact an
// exact digest, name:tag or name@digest names.
func (h *Handlers) Search(w http.ResponseWriter, r *http.Request) error {
	limit, err := intParam(r, "limit", 20)
	if err != nil {
		return err
	}
	visible, err := h.visible(r)
	if err != nil {
		return err
	}
	res, err := h.svc.Search(r.Context(), r.URL.Query().Get("q"), visible, limit)
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, res)
}

// Statistics serves GET /api/v1/statistics: projects, repositories,
// blobs and bytes stored.
func (h *Handlers) Statistics(w http.ResponseWriter, r *http.Request) error {
	st, err := h.svc.Stats(r.Context())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, st)
}

// Recent serves GET /api/v1/recent?limit=: the tags pushed last, among
// the repositories the caller may see.
func (h *Handlers) Recent(w http.ResponseWriter, r *http.Request) error {
	limit, err := intParam(r, "limit", 20)
	if err != nil {
		return err
	}
	visible, err := h.visible(r)
	if err != nil {
		return err
	}
	hits, err := h.svc.RecentTags(r.Context(), visible, limit)
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, hits)
}

// Repository is a repository in a list.
type Repository struct {
	Name     string     `json:"name"`
	Tags     int64      `json:"tags"`
	PushedAt time.Time  `json:"pushed_at"`
	Pulls    int64      `json:"pulls"`
	PulledAt *time.Time `json:"pulled_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Repositories serves GET /api/v1/projects/{project}/repositories
// ?q=&sort=name|pushed|pulls&offset=&limit=.
func (h *Handlers) Repositories(w http.ResponseWriter, r *http.Request) error {
	q, err := RepositoryQuery(r)
	if err != nil {
		return err
	}
	rs, total, err := h.svc.RepositoryList(r.Context(), q)
	if err != nil {
		return apiErr(err)
	}
	out := struct {
		Total        int64        `json:"total"`
		Repositories []Repository `json:"repositories"`
	}{Total: total, Repositories: []Repository{}}
	for _, x := range rs {
		out.Repositories = append(out.Repositories, Repository{Name: x.Name, Tags: x.Tags, PushedAt: x.PushedAt, Pulls: x.Pulls, PulledAt: optTime(x.PulledAt)})
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}

// RepositoryQuery reads the list parameters of a project's repositories
// (the UI reads them the same way).
func RepositoryQuery(r *http.Request) (meta.RepositoryQuery, error) {
	q := meta.RepositoryQuery{Project: r.PathValue("project"), Filter: r.URL.Query().Get("q"), Sort: r.URL.Query().Get("sort")}
	var err error
	if q.Offset, err = intParam(r, "offset", 0); err != nil {
		return q, err
	}
	if q.Limit, err = intParam(r, "limit", 50); err != nil {
		return q, err
	}
	return q, nil
}

// Tag is a tag in a list.
type Tag struct {
	Name         string        `json:"name"`
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"media_type"`
	ArtifactType string        `json:"artifact_type,omitempty"`
	Platforms    []string      `json:"platforms,omitempty"`
	Size         int64         `json:"size"`
	PushedAt     time.Time     `json:"pushed_at"`
	PulledAt     *time.Time    `json:"pulled_at,omitempty"`
}

// Manifest is an untagged manifest or a referrer in a list.
type Manifest struct {
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"media_type"`
	ArtifactType string        `json:"artifact_type,omitempty"`
	Subject      digest.Digest `json:"subject,omitempty"`
	Size         int64         `json:"size"`
	PushedAt     time.Time     `json:"pushed_at"`
	PulledAt     *time.Time    `json:"pulled_at,omitempty"`
}

// Repository serves GET /api/v1/projects/{project}/repositories/
// {repository...}: with "@digest" at the end, the artifact's details;
// otherwise a page of tags (?q=&sort=name|semver|pushed&offset=&limit=),
// or with ?kind=untagged|referrers, those manifests.
func (h *Handlers) Repository(w http.ResponseWriter, r *http.Request) error {
	project, rest := r.PathValue("project"), r.PathValue("repository")
	name, ref, isArtifact := strings.Cut(rest, "@")
	name = project + "/" + name
	if !oci.ValidName(name) {
		return &oci.Error{Code: oci.CodeNameInvalid, Message: "invalid repository name: " + name}
	}
	ctx := r.Context()
	if isArtifact {
		a, err := h.svc.Artifact(ctx, name, ref)
		if err != nil {
			return err
		}
		return manage.WriteJSON(w, http.StatusOK, a)
	}
	offset, err := intParam(r, "offset", 0)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 50)
	if err != nil {
		return err
	}
	if kind := r.URL.Query().Get("kind"); kind != "" {
		ms, err := h.svc.Manifests(ctx, name, kind, limit)
		if err != nil {
			return apiErr(err)
		}
		out := []Manifest{}
		for _, m := range ms {
			out = append(out, Manifest{Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Subject: m.Subject,
				Size: m.Size, PushedAt: m.CreatedAt, PulledAt: optTime(m.PulledAt)})
		}
		return manage.WriteJSON(w, http.StatusOK, map[string]any{"manifests": out})
	}
	page, err := h.svc.TagList(ctx, name, registry.TagQuery{Filter: r.URL.Query().Get("q"), Sort: r.URL.Query().Get("sort"), Offset: offset, Limit: limit})
	if err != nil {
		return apiErr(err)
	}
	out := struct {
		Name  string `json:"name"`
		Total int    `json:"total"`
		Tags  []Tag  `json:"tags"`
	}{Name: name, Total: page.Total, Tags: []Tag{}}
	for _, t := range page.Tags {
		out.Tags = append(out.Tags, Tag{Name: t.Tag, Digest: t.Digest, MediaType: t.MediaType, ArtifactType: t.ArtifactType,
			Platforms: t.Platforms, Size: t.TotalSize, PushedAt: t.PushedAt, PulledAt: optTime(t.PulledAt)})
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}
