package app

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/api/browseapi"
	"github.com/berth-registry/berth/internal/api/eventapi"
	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/api/policyapi"
	"github.com/berth-registry/berth/internal/api/replicationapi"
	"github.com/berth-registry/berth/internal/api/scanapi"
	"github.com/berth-registry/berth/internal/api/signingapi"
	v2 "github.com/berth-registry/berth/internal/api/v2"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/proxy"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scrub"
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
	h := a.authAPI
	pol := policyapi.New(a.policy, a.retain)
	gcAPI, scrubAPI, backupSvc := gc.NewAPI(a.jobs), scrub.NewAPI(a.jobs), a.backupService()
	proxySync := &proxy.SyncAPI{Proxy: a.proxy, Jobs: a.jobs}
	browse := browseapi.New(a.svc, a.visibleRepos)
	hooks := eventapi.New(a.events)
	sig := signingapi.New(a.trust)
	const project = "/api/v1/projects/{project}"
	return append([]manage.Route{
		{Name: "api_ping", Method: http.MethodGet, Pattern: "/api/v1/ping", Perm: manage.PermPublic, Handle: a.apiPing},

		// Pull-through cache (docs/proxy.md).
		{Name: "proxy_upstreams", Method: http.MethodGet, Pattern: "/api/v1/proxy/upstreams", Perm: manage.PermSystemAdmin, Handle: a.proxy.HandleUpstreams},
		{Name: "proxy_sync_start", Method: http.MethodPost, Pattern: "/api/v1/proxy/upstreams/{name}/sync", Perm: manage.PermSystemAdmin, Handle: proxySync.Start},
		{Name: "proxy_sync_status", Method: http.MethodGet, Pattern: "/api/v1/proxy/upstreams/{name}/sync", Perm: manage.PermSystemAdmin, Handle: proxySync.Get},
		{Name: "system", Method: http.MethodGet, Pattern: "/api/v1/system", Perm: manage.PermSystemAdmin, Handle: a.system.Handle},
		{Name: "audit_list", Method: http.MethodGet, Pattern: "/api/v1/audit", Perm: manage.PermSystemAdmin, Handle: a.auditEvents},
		{Name: "anomalies", Method: http.MethodGet, Pattern: "/api/v1/anomalies", Perm: manage.PermSystemAdmin, Handle: a.anomaly.List},

		// Garbage collection and deletion (docs/gc.md).
		{Name: "gc_start", Method: http.MethodPost, Pattern: "/api/v1/gc", Perm: manage.PermSystemAdmin, Handle: gcAPI.Start},
		{Name: "gc_status", Method: http.MethodGet, Pattern: "/api/v1/gc", Perm: manage.PermSystemAdmin, Handle: gcAPI.Get},
		{Name: "gc_runs", Method: http.MethodGet, Pattern: "/api/v1/gc/runs", Perm: manage.PermSystemAdmin, Handle: gcAPI.History},
		{Name: "scrub_start", Method: http.MethodPost, Pattern: "/api/v1/scrub", Perm: manage.PermSystemAdmin, Handle: scrubAPI.Start},
		{Name: "scrub_status", Method: http.MethodGet, Pattern: "/api/v1/scrub", Perm: manage.PermSystemAdmin, Handle: scrubAPI.Get},
		{Name: "scrub_runs", Method: http.MethodGet, Pattern: "/api/v1/scrub/runs", Perm: manage.PermSystemAdmin, Handle: scrubAPI.History},
		{Name: "backup_start", Method: http.MethodPost, Pattern: "/api/v1/backup", Perm: manage.PermSystemAdmin, Handle: backupStart(backupSvc)},
		{Name: "backup_status", Method: http.MethodGet, Pattern: "/api/v1/backup", Perm: manage.PermSystemAdmin, Handle: backupSvc.Jobs.Get},
		{Name: "backup_runs", Method: http.MethodGet, Pattern: "/api/v1/backup/runs", Perm: manage.PermSystemAdmin, Handle: backupSvc.Jobs.History},
		{Name: "backup_snapshots", Method: http.MethodGet, Pattern: "/api/v1/backup/snapshots", Perm: manage.PermSystemAdmin, Handle: backupSnapshots(backupSvc)},
		{Name: "repository_delete", Method: http.MethodDelete, Pattern: project + "/repositories/{repository...}", Perm: manage.PermProjectAdmin, Handle: a.deleteRepository},
		{Name: "repository_delete_any", Method: http.MethodDelete, Pattern: "/api/v1/repositories/{name...}", Perm: manage.PermSystemAdmin, Handle: a.deleteAnyRepository},

		// Webhooks (docs/events.md): a project's, and the system-wide ones.
		{Name: "webhooks", Method: http.MethodGet, Pattern: project + "/webhooks", Perm: manage.PermProjectAdmin, Handle: hooks.List},
		{Name: "webhook_create", Method: http.MethodPost, Pattern: project + "/webhooks", Perm: manage.PermProjectAdmin, Handle: hooks.Create},
		{Name: "webhook", Method: http.MethodGet, Pattern: project + "/webhooks/{id}", Perm: manage.PermProjectAdmin, Handle: hooks.Get},
		{Name: "webhook_update", Method: http.MethodPut, Pattern: project + "/webhooks/{id}", Perm: manage.PermProjectAdmin, Handle: hooks.Update},
		{Name: "webhook_delete", Method: http.MethodDelete, Pattern: project + "/webhooks/{id}", Perm: manage.PermProjectAdmin, Handle: hooks.Delete},
		{Name: "webhook_deliveries", Method: http.MethodGet, Pattern: project + "/webhooks/{id}/deliveries", Perm: manage.PermProjectAdmin, Handle: hooks.Deliveries},
		{Name: "webhook_redeliver", Method: http.MethodPost, Pattern: project + "/webhooks/{id}/deliveries/{delivery}/redeliver", Perm: manage.PermProjectAdmin, Handle: hooks.Redeliver},
		{Name: "webhook_redeliver_all", Method: http.MethodPost, Pattern: project + "/webhooks/{id}/redeliver", Perm: manage.PermProjectAdmin, Handle: hooks.Redeliver},
		{Name: "system_webhooks", Method: http.MethodGet, Pattern: "/api/v1/webhooks", Perm: manage.PermSystemAdmin, Handle: hooks.List},
		{Name: "system_webhook_create", Method: http.MethodPost, Pattern: "/api/v1/webhooks", Perm: manage.PermSystemAdmin, Handle: hooks.Create},
		{Name: "system_webhook", Method: http.MethodGet, Pattern: "/api/v1/webhooks/{id}", Perm: manage.PermSystemAdmin, Handle: hooks.Get},
		{Name: "system_webhook_update", Method: http.MethodPut, Pattern: "/api/v1/webhooks/{id}", Perm: manage.PermSystemAdmin, Handle: hooks.Update},
		{Name: "system_webhook_delete", Method: http.MethodDelete, Pattern: "/api/v1/webhooks/{id}", Perm: manage.PermSystemAdmin, Handle: hooks.Delete},
		{Name: "system_webhook_deliveries", Method: http.MethodGet, Pattern: "/api/v1/webhooks/{id}/deliveries", Perm: manage.PermSystemAdmin, Handle: hooks.Deliveries},
		{Name: "system_webhook_redeliver", Method: http.MethodPost, Pattern: "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", Perm: manage.PermSystemAdmin, Handle: hooks.Redeliver},
		{Name: "system_webhook_redeliver_all", Method: http.MethodPost, Pattern: "/api/v1/webhooks/{id}/redeliver", Perm: manage.PermSystemAdmin, Handle: hooks.Redeliver},

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
		{Name: "retention_preview", Method: http.MethodPost, Pattern: project + "/retention/preview", Perm: manage.PermProjectAdmin, Handle: pol.PreviewRetention},
		{Name: "retention_runs", Method: http.MethodGet, Pattern: project + "/retention/runs", Perm: manage.PermProjectRead, Handle: pol.ListRetentionRuns},

		// Signature policies (docs/signing.md): rules, trust material, verification status.
		{Name: "signing_rules_list", Method: http.MethodGet, Pattern: project + "/signing/rules", Perm: manage.PermProjectRead, Handle: sig.ListRules},
		{Name: "signing_rule_add", Method: http.MethodPost, Pattern: project + "/signing/rules", Perm: manage.PermProjectAdmin, Handle: sig.AddRule},
		{Name: "signing_rule_update", Method: http.MethodPut, Pattern: project + "/signing/rules/{id}", Perm: manage.PermProjectAdmin, Handle: sig.UpdateRule},
		{Name: "signing_rule_delete", Method: http.MethodDelete, Pattern: project + "/signing/rules/{id}", Perm: manage.PermProjectAdmin, Handle: sig.DeleteRule},
		{Name: "signing_keys_list", Method: http.MethodGet, Pattern: project + "/signing/keys", Perm: manage.PermProjectRead, Handle: sig.ListMaterials},
		{Name: "signing_key_add", Method: http.MethodPost, Pattern: project + "/signing/keys", Perm: manage.PermProjectAdmin, Handle: sig.AddMaterial},
		{Name: "signing_key_delete", Method: http.MethodDelete, Pattern: project + "/signing/keys/{id}", Perm: manage.PermProjectAdmin, Handle: sig.DeleteMaterial},
		{Name: "signing_status", Method: http.MethodGet, Pattern: project + "/signing/status", Perm: manage.PermProjectRead, Handle: sig.Status},
		{Name: "signing_verify", Method: http.MethodPost, Pattern: project + "/signing/verify", Perm: manage.PermProjectAdmin, Handle: sig.Verify},

		// Browsing (docs/api.md, "Browsing"): what the web UI's pages show.
		{Name: "search", Method: http.MethodGet, Pattern: "/api/v1/search", Perm: manage.PermPublic, Handle: browse.Search},
		{Name: "statistics", Method: http.MethodGet, Pattern: "/api/v1/statistics", Perm: manage.PermSystemAdmin, Handle: browse.Statistics},
		{Name: "recent", Method: http.MethodGet, Pattern: "/api/v1/recent", Perm: manage.PermPublic, Handle: browse.Recent},
		{Name: "repositories", Method: http.MethodGet, Pattern: project + "/repositories", Perm: manage.PermProjectRead, Handle: browse.Repositories},
		{Name: "repository", Method: http.MethodGet, Pattern: project + "/repositories/{repository...}", Perm: manage.PermProjectRead, Handle: browse.Repository},

		// Access control (docs/api.md#access-control).
		{Name: "me", Method: http.MethodGet, Pattern: "/api/v1/me", Perm: manage.PermAuthenticated, Handle: h.Me},
		{Name: "me_password", Method: http.MethodPut, Pattern: "/api/v1/me/password", Perm: manage.PermAuthenticated, Handle: h.SetMyPassword},
		{Name: "me_tokens", Method: http.MethodGet, Pattern: "/api/v1/me/tokens", Perm: manage.PermAuthenticated, Handle: h.ListMyTokens},
		{Name: "me_token_create", Method: http.MethodPost, Pattern: "/api/v1/me/tokens", Perm: manage.PermAuthenticated, Handle: h.CreateMyToken},
		{Name: "me_token_delete", Method: http.MethodDelete, Pattern: "/api/v1/me/tokens/{id}", Perm: manage.PermAuthenticated, Handle: h.DeleteMyToken},
		{Name: "users", Method: http.MethodGet, Pattern: "/api/v1/users", Perm: manage.PermSystemAdmin, Handle: h.ListUsers},
		{Name: "user_create", Method: http.MethodPost, Pattern: "/api/v1/users", Perm: manage.PermSystemAdmin, Handle: h.CreateUser},
		{Name: "user", Method: http.MethodGet, Pattern: "/api/v1/users/{user}", Perm: manage.PermSystemAdmin, Handle: h.GetUser},
		{Name: "user_update", Method: http.MethodPatch, Pattern: "/api/v1/users/{user}", Perm: manage.PermSystemAdmin, Handle: h.UpdateUser},
		{Name: "user_delete", Method: http.MethodDelete, Pattern: "/api/v1/users/{user}", Perm: manage.PermSystemAdmin, Handle: h.DeleteUser},
		{Name: "projects", Method: http.MethodGet, Pattern: "/api/v1/projects", Perm: manage.PermPublic, Handle: h.ListProjects},
		{Name: "project_create", Method: http.MethodPost, Pattern: "/api/v1/projects", Perm: manage.PermAuthenticated, Handle: h.CreateProject},
		{Name: "project", Method: http.MethodGet, Pattern: "/api/v1/projects/{project}", Perm: manage.PermProjectRead, Handle: h.GetProject},
		{Name: "project_update", Method: http.MethodPatch, Pattern: "/api/v1/projects/{project}", Perm: manage.PermProjectAdmin, Handle: h.UpdateProject},
		{Name: "project_delete", Method: http.MethodDelete, Pattern: "/api/v1/projects/{project}", Perm: manage.PermProjectAdmin, Handle: h.DeleteProject},
		{Name: "members", Method: http.MethodGet, Pattern: "/api/v1/projects/{project}/members", Perm: manage.PermProjectRead, Handle: h.ListMembers},
		{Name: "member_put", Method: http.MethodPut, Pattern: "/api/v1/projects/{project}/members/{kind}/{name}", Perm: manage.PermProjectAdmin, Handle: h.PutMember},
		{Name: "member_delete", Method: http.MethodDelete, Pattern: "/api/v1/projects/{project}/members/{kind}/{name}", Perm: manage.PermProjectAdmin, Handle: h.DeleteMember},
		{Name: "project_robots", Method: http.MethodGet, Pattern: "/api/v1/projects/{project}/robots", Perm: manage.PermProjectAdmin, Handle: h.ListProjectRobots},
		{Name: "project_robot_create", Method: http.MethodPost, Pattern: "/api/v1/projects/{project}/robots", Perm: manage.PermProjectAdmin, Handle: h.CreateProjectRobot},
		{Name: "project_robot_delete", Method: http.MethodDelete, Pattern: "/api/v1/projects/{project}/robots/{robot}", Perm: manage.PermProjectAdmin, Handle: h.DeleteProjectRobot},
		{Name: "project_network_rule", Method: http.MethodGet, Pattern: "/api/v1/projects/{project}/network-rule", Perm: manage.PermProjectRead, Handle: h.GetProjectNetworkRule},
		{Name: "project_network_rule_put", Method: http.MethodPut, Pattern: "/api/v1/projects/{project}/network-rule", Perm: manage.PermProjectAdmin, Handle: h.PutProjectNetworkRule},
		{Name: "project_robot_network_rule", Method: http.MethodGet, Pattern: "/api/v1/projects/{project}/robots/{robot}/network-rule", Perm: manage.PermProjectAdmin, Handle: h.GetRobotNetworkRule},
		{Name: "project_robot_network_rule_put", Method: http.MethodPut, Pattern: "/api/v1/projects/{project}/robots/{robot}/network-rule", Perm: manage.PermProjectAdmin, Handle: h.PutRobotNetworkRule},
		{Name: "robot_network_rule", Method: http.MethodGet, Pattern: "/api/v1/robots/{robot}/network-rule", Perm: manage.PermSystemAdmin, Handle: h.GetRobotNetworkRule},
		{Name: "robot_network_rule_put", Method: http.MethodPut, Pattern: "/api/v1/robots/{robot}/network-rule", Perm: manage.PermSystemAdmin, Handle: h.PutRobotNetworkRule},
		{Name: "robots", Method: http.MethodGet, Pattern: "/api/v1/robots", Perm: manage.PermSystemAdmin, Handle: h.ListRobots},
		{Name: "robot_create", Method: http.MethodPost, Pattern: "/api/v1/robots", Perm: manage.PermSystemAdmin, Handle: h.CreateRobot},
		{Name: "robot_delete", Method: http.MethodDelete, Pattern: "/api/v1/robots/{robot}", Perm: manage.PermSystemAdmin, Handle: h.DeleteRobot},
		{Name: "settings", Method: http.MethodGet, Pattern: "/api/v1/settings", Perm: manage.PermAuthenticated, Handle: h.GetSettings},
		{Name: "settings_update", Method: http.MethodPatch, Pattern: "/api/v1/settings", Perm: manage.PermSystemAdmin, Handle: h.UpdateSettings},
		{Name: "keys", Method: http.MethodGet, Pattern: "/api/v1/auth/keys", Perm: manage.PermSystemAdmin, Handle: h.SigningKeys},
		{Name: "key_rotate", Method: http.MethodPost, Pattern: "/api/v1/auth/keys/rotate", Perm: manage.PermSystemAdmin, Handle: h.RotateKey},
	}, append(a.replicationRoutes(), a.scanRoutes()...)...)
}

// replicationRoutes are the replication API (docs/replication.md):
// registries, rules, runs and tasks; system administrators only.
func (a *App) replicationRoutes() []manage.Route {
	rp := replicationapi.New(a.repl)
	const base = "/api/v1/replication"
	return []manage.Route{
		{Name: "replication_registries", Method: http.MethodGet, Pattern: base + "/registries", Perm: manage.PermSystemAdmin, Handle: rp.ListRegistries},
		{Name: "replication_registry_create", Method: http.MethodPost, Pattern: base + "/registries", Perm: manage.PermSystemAdmin, Handle: rp.CreateRegistry},
		{Name: "replication_registry", Method: http.MethodGet, Pattern: base + "/registries/{name}", Perm: manage.PermSystemAdmin, Handle: rp.GetRegistry},
		{Name: "replication_registry_update", Method: http.MethodPut, Pattern: base + "/registries/{name}", Perm: manage.PermSystemAdmin, Handle: rp.UpdateRegistry},
		{Name: "replication_registry_delete", Method: http.MethodDelete, Pattern: base + "/registries/{name}", Perm: manage.PermSystemAdmin, Handle: rp.DeleteRegistry},
		{Name: "replication_registry_health", Method: http.MethodPost, Pattern: base + "/registries/{name}/health", Perm: manage.PermSystemAdmin, Handle: rp.CheckRegistry},
		{Name: "replication_rules", Method: http.MethodGet, Pattern: base + "/rules", Perm: manage.PermSystemAdmin, Handle: rp.ListRules},
		{Name: "replication_rule_create", Method: http.MethodPost, Pattern: base + "/rules", Perm: manage.PermSystemAdmin, Handle: rp.CreateRule},
		{Name: "replication_rule", Method: http.MethodGet, Pattern: base + "/rules/{name}", Perm: manage.PermSystemAdmin, Handle: rp.GetRule},
		{Name: "replication_rule_update", Method: http.MethodPut, Pattern: base + "/rules/{name}", Perm: manage.PermSystemAdmin, Handle: rp.UpdateRule},
		{Name: "replication_rule_delete", Method: http.MethodDelete, Pattern: base + "/rules/{name}", Perm: manage.PermSystemAdmin, Handle: rp.DeleteRule},
		{Name: "replication_run_start", Method: http.MethodPost, Pattern: base + "/rules/{name}/runs", Perm: manage.PermSystemAdmin, Handle: rp.StartRun},
		{Name: "replication_runs", Method: http.MethodGet, Pattern: base + "/runs", Perm: manage.PermSystemAdmin, Handle: rp.ListRuns},
		{Name: "replication_run", Method: http.MethodGet, Pattern: base + "/runs/{id}", Perm: manage.PermSystemAdmin, Handle: rp.GetRun},
		{Name: "replication_run_tasks", Method: http.MethodGet, Pattern: base + "/runs/{id}/tasks", Perm: manage.PermSystemAdmin, Handle: rp.ListTasks},
		{Name: "replication_run_stop", Method: http.MethodPost, Pattern: base + "/runs/{id}/stop", Perm: manage.PermSystemAdmin, Handle: rp.StopRun},
	}
}

// scanRoutes are the vulnerability scanning routes (docs/scanning.md),
// when scan.enabled is on.
func (a *App) scanRoutes() []manage.Route {
	if a.scan == nil {
		return nil
	}
	sc := scanapi.New(a.scan, publisher{a})
	all := &jobs.API[scan.JobRequest, scan.JobReport]{Jobs: a.jobs, Name: scan.JobScanAll}
	const project = "/api/v1/projects/{project}"
	return []manage.Route{
		{Name: "scan_request", Method: http.MethodPost, Pattern: project + "/scan/{repository...}", Perm: manage.PermProjectAdmin, Handle: sc.Scan},
		{Name: "scan_result", Method: http.MethodGet, Pattern: project + "/scan/{repository...}", Perm: manage.PermProjectRead, Handle: sc.Result},
		{Name: "scan_report", Method: http.MethodGet, Pattern: project + "/scan-report/{repository...}", Perm: manage.PermProjectRead, Handle: sc.Report},
		{Name: "sbom", Method: http.MethodGet, Pattern: project + "/sbom/{repository...}", Perm: manage.PermProjectRead, Handle: sc.SBOM},
		{Name: "sbom_attach", Method: http.MethodPost, Pattern: project + "/sbom/{repository...}", Perm: manage.PermProjectAdmin, Handle: sc.AttachSBOM},
		{Name: "scan_policy", Method: http.MethodGet, Pattern: project + "/scan-policy", Perm: manage.PermProjectRead, Handle: sc.GetPolicy},
		{Name: "scan_policy_set", Method: http.MethodPut, Pattern: project + "/scan-policy", Perm: manage.PermProjectAdmin, Handle: sc.SetPolicy},
		{Name: "scan_system_policy", Method: http.MethodGet, Pattern: "/api/v1/scan/policy", Perm: manage.PermSystemAdmin, Handle: sc.GetPolicy},
		{Name: "scan_system_policy_set", Method: http.MethodPut, Pattern: "/api/v1/scan/policy", Perm: manage.PermSystemAdmin, Handle: sc.SetPolicy},
		{Name: "scan_scanners", Method: http.MethodGet, Pattern: "/api/v1/scan/scanners", Perm: manage.PermSystemAdmin, Handle: sc.Scanners},
		{Name: "scan_database", Method: http.MethodGet, Pattern: "/api/v1/scan/database", Perm: manage.PermAuthenticated, Handle: sc.Database},
		{Name: "scan_all_start", Method: http.MethodPost, Pattern: "/api/v1/scan/all", Perm: manage.PermSystemAdmin, Handle: all.Start},
		{Name: "scan_all_status", Method: http.MethodGet, Pattern: "/api/v1/scan/all", Perm: manage.PermSystemAdmin, Handle: all.Get},
		{Name: "scan_all_stop", Method: http.MethodDelete, Pattern: "/api/v1/scan/all", Perm: manage.PermSystemAdmin, Handle: sc.StopAll},
	}
}

// tokenRoutes are the token endpoint and the public keys of its tokens
// (with access control on).
func (a *App) tokenRoutes() []manage.Route {
	h := a.authAPI
	return []manage.Route{
		{Name: "token", Method: http.MethodGet, Pattern: auth.TokenPath, Perm: manage.PermPublic, Handle: h.GetToken},
		{Name: "token", Method: http.MethodPost, Pattern: auth.TokenPath, Perm: manage.PermPublic, Handle: h.PostToken},
		{Name: "jwks", Method: http.MethodGet, Pattern: "/.well-known/jwks.json", Perm: manage.PermPublic, Handle: h.JWKS},
	}
}

// routes is the whole HTTP surface of Berth. /v2/ goes straight to its
// router: http.ServeMux would clean ".." out of paths and redirect, which
// would turn an invalid repository name into another, valid one.
func (a *App) routes() http.Handler {
	h := v2.NewHandlers(a.svc)
	v2router := v2.NewRouter(v2Routes(h), a.log)
	if a.auth != nil {
		h.WithAuthorizer(v2Access{a.auth, a.svc})
		v2router.WithAuthorizer(v2Access{a.auth, a.svc})
	}
	if a.limiter != nil {
		v2router.WithAdmitter(v2Admit{a})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", named("healthz", http.HandlerFunc(a.healthz)))
	mux.Handle("GET /readyz", named("readyz", http.HandlerFunc(a.readyz)))
	manage.Mount(mux, a.apiRoutes(), a.authorizeAPI, a.log)
	if a.ui != nil {
		a.ui.Mount(mux) // the web UI's own table: internal/ui/routes.go
	}
	var dispatch http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
			v2router.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	if a.auth != nil {
		manage.Mount(mux, a.tokenRoutes(), nil, a.log)
		dispatch = a.auth.Middleware(dispatch)
	}
	if a.cfg.Metrics.Addr == "" {
		// Beside access control: metrics.token guards them, and a
		// scraper's token is not one of ours.
		metrics, next := named("metrics", a.MetricsHandler()), dispatch
		dispatch = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/metrics" {
				metrics.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	return a.middleware(dispatch)
}

// apiPing answers the management API's liveness check.
func (a *App) apiPing(w http.ResponseWriter, r *http.Request) error {
	return manage.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
