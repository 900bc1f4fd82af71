package app

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/api/policyapi"
	v2 "github.com/berth-registry/berth/internal/api/v2"
	"github.com/berth-registry/berth/internal/gc"
)

// v2Routes is the route table of the OCI Distribution API. Each entry names
// the route (for logs and metrics), the shape of its path, its method, the
// access it needs on the repository, and its handler.
func v2Routes(h *v2.Handlers) []v2.Route {
	return []v2.Route{
		{Name: "base", Kind: v2.KindBase, Method: http.MethodGet, Action: v2.ActionNone, Handle: h.Base},
		{Name: "base", Kind: v2.KindBase, Method: http.MethodHead, Action: v2.ActionNone, Handle: h.Base},
		{Name: "catalog", Kind: v2.KindCatalog, Method: http.MethodGet, Action: v2.ActionPull, Handle: h.Catalog},
		{Name: "tags_list", Kind: v2.KindTags, Method: http.MethodGet, Action: v2.ActionPull, Handle: h.Tags},
		{Name: "manifest_get", Kind: v2.KindManifest, Method: http.MethodGet, Action: v2.ActionPull, Handle: h.GetManifest},
		{Name: "manifest_head", Kind: v2.KindManifest, Method: http.MethodHead, Action: v2.ActionPull, Handle: h.GetManifest},
		{Name: "manifest_put", Kind: v2.KindManifest, Method: http.MethodPut, Action: v2.ActionPush, Handle: h.PutManifest},
		{Name: "manifest_delete", Kind: v2.KindManifest, Method: http.MethodDelete, Action: v2.ActionDelete, Handle: h.DeleteManifest},
		{Name: "blob_get", Kind: v2.KindBlob, Method: http.MethodGet, Action: v2.ActionPull, Handle: h.GetBlob},
		{Name: "blob_head", Kind: v2.KindBlob, Method: http.MethodHead, Action: v2.ActionPull, Handle: h.GetBlob},
		{Name: "blob_delete", Kind: v2.KindBlob, Method: http.MethodDelete, Action: v2.ActionDelete, Handle: h.DeleteBlob},
		{Name: "upload_start", Kind: v2.KindUploads, Method: http.MethodPost, Action: v2.ActionPush, Handle: h.StartUpload},
		{Name: "upload_status", Kind: v2.KindUpload, Method: http.MethodGet, Action: v2.ActionPush, Handle: h.UploadStatus},
		{Name: "upload_patch", Kind: v2.KindUpload, Method: http.MethodPatch, Action: v2.ActionPush, Handle: h.PatchUpload},
		{Name: "upload_put", Kind: v2.KindUpload, Method: http.MethodPut, Action: v2.ActionPush, Handle: h.FinishUpload},
		{Name: "upload_delete", Kind: v2.KindUpload, Method: http.MethodDelete, Action: v2.ActionPush, Handle: h.CancelUpload},
		{Name: "referrers", Kind: v2.KindReferrers, Method: http.MethodGet, Action: v2.ActionPull, Handle: h.Referrers},
	}
}

// apiRoutes is the route table of the JSON management API (docs/api.md).
// Each entry names the route, its method and path, the permission its
// caller needs, and its handler.
func (a *App) apiRoutes() []manage.Route {
	pol := policyapi.New(a.policy, a.retain)
	gcAPI := &gc.API{Jobs: a.jobs}
	const project = "/api/v1/projects/{project}"
	return []manage.Route{
		{Name: "api_ping", Method: http.MethodGet, Pattern: "/api/v1/ping", Perm: manage.PermPublic, Handle: a.apiPing},
		{Name: "audit_list", Method: http.MethodGet, Pattern: "/api/v1/audit", Perm: manage.PermSystemAdmin, Handle: a.auditEvents},

		// Garbage collection and deletion (docs/gc.md).
		{Name: "gc_start", Method: http.MethodPost, Pattern: "/api/v1/gc", Perm: manage.PermSystemAdmin, Handle: gcAPI.Start},
		{Name: "gc_status", Method: http.MethodGet, Pattern: "/api/v1/gc", Perm: manage.PermSystemAdmin, Handle: gcAPI.Get},
		{Name: "repository_delete", Method: http.MethodDelete, Pattern: project + "/repositories/{repository...}", Perm: manage.PermProjectAdmin, Handle: a.deleteRepository},
		{Name: "repository_delete_any", Method: http.MethodDelete, Pattern: "/api/v1/repositories/{name...}", Perm: manage.PermSystemAdmin, Handle: a.deleteAnyRepository},

		// Project policies (docs/api.md, "Project policies").
		{Name: "immutable_rules_list", Method: http.MethodGet, Pattern: project + "/immutable-rules", Perm: manage.PermProjectRead, Handle: pol.ListImmutableRules},
		{Name: "immutable_rule_add", Method: http.MethodPost, Pattern: project + "/immutable-rules", Perm: manage.PermProjectAdmin, Handle: pol.AddImmutableRule},
		{Name: "immutable_rule_update", Method: http.MethodPut, Pattern: project + "/immutable-rules/{id}", Perm: manage.PermProjectAdmin, Handle: pol.UpdateImmutableRule},
		{Name: "immutable_rule_delete", Method: http.MethodDelete, Pattern: project + "/immutable-rules/{id}", Perm: manage.PermProjectAdmin, Handle: pol.DeleteImmutableRule},
		{Name: "quota_get", Method: http.MethodGet, Pattern: project + "/quota", Perm: manage.PermProjectRead, Handle: pol.GetQuota},
		{Name: "quota_set", Method: http.MethodPut, Pattern: project + "/quota", Perm: manage.PermSystemAdmin, Handle: pol.SetQuota},
		{Name: "quota_delete", Method: http.MethodDelete, Pattern: project + "/quota", Perm: manage.PermSystemAdmin, Handle: pol.DeleteQuota},
		{Name: "usage_get", Method: http.MethodGet, Pattern: project + "/usage", Perm: manage.PermProjectRead, Handle: pol.GetUsage},
		{Name: "retention_get", Method: http.MethodGet, Pattern: project + "/retention", Perm: manage.PermProjectRead, Handle: pol.GetRetention},
		{Name: "retention_set", Method: http.MethodPut, Pattern: project + "/retention", Perm: manage.PermProjectAdmin, Handle: pol.SetRetention},
		{Name: "retention_delete", Method: http.MethodDelete, Pattern: project + "/retention", Perm: manage.PermProjectAdmin, Handle: pol.DeleteRetention},
		{Name: "retention_run", Method: http.MethodPost, Pattern: project + "/retention/run", Perm: manage.PermProjectAdmin, Handle: pol.RunRetention},
		{Name: "retention_runs", Method: http.MethodGet, Pattern: project + "/retention/runs", Perm: manage.PermProjectRead, Handle: pol.ListRetentionRuns},
	}
}

// routes is the whole HTTP surface of Berth. /v2/ goes straight to its
// router: http.ServeMux would clean ".." out of paths and redirect, which
// would turn an invalid repository name into another, valid one.
func (a *App) routes() http.Handler {
	v2router := v2.NewRouter(v2Routes(v2.NewHandlers(a.svc)), a.log)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", named("healthz", http.HandlerFunc(a.healthz)))
	mux.Handle("GET /readyz", named("readyz", http.HandlerFunc(a.readyz)))
	mux.Handle("GET /metrics", named("metrics", promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{})))
	manage.Mount(mux, a.apiRoutes(), a.authorizeAPI, a.log)
	return a.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
			v2router.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// apiPing answers the management API's liveness check.
func (a *App) apiPing(w http.ResponseWriter, r *http.Request) error {
	return manage.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
