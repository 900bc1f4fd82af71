package ui

import (
	"net/http"

	"github.com/berth-registry/berth/internal/api/manage"
)

// adminRoutes are the management pages: the user's own page, a project's
// members, robots and policies, and the system administration. Each has
// the permission of the /api/v1 route that reads or changes the same
// thing (internal/app/routes.go). Forms name what they act on in the
// form body, not in the path: member, user and group names may hold any
// character.
func (u *UI) adminRoutes() []Route {
	const project = "/ui/projects/{project}"
	get, post := http.MethodGet, http.MethodPost
	return []Route{
		// The viewer's own account (/api/v1/me...).
		{Name: "ui_user", Method: get, Pattern: "/ui/user", Perm: manage.PermAuthenticated, Handle: u.user},
		{Name: "ui_user_password", Method: post, Pattern: "/ui/user/password", Perm: manage.PermAuthenticated, Handle: u.userPassword},
		{Name: "ui_user_token_create", Method: post, Pattern: "/ui/user/tokens", Perm: manage.PermAuthenticated, Handle: u.userTokenCreate},
		{Name: "ui_user_token_delete", Method: post, Pattern: "/ui/user/tokens/delete", Perm: manage.PermAuthenticated, Handle: u.userTokenDelete},

		// Members and robots of a project.
		{Name: "ui_members", Method: get, Pattern: project + "/members", Perm: manage.PermProjectRead, Handle: u.members},
		{Name: "ui_member_put", Method: post, Pattern: project + "/members", Perm: manage.PermProjectAdmin, Handle: u.memberPut},
		{Name: "ui_member_delete", Method: post, Pattern: project + "/members/delete", Perm: manage.PermProjectAdmin, Handle: u.memberDelete},
		{Name: "ui_robots", Method: get, Pattern: project + "/robots", Perm: manage.PermProjectAdmin, Handle: u.robots},
		{Name: "ui_robot_create", Method: post, Pattern: project + "/robots", Perm: manage.PermProjectAdmin, Handle: u.robotCreate},
		{Name: "ui_robot_delete", Method: post, Pattern: project + "/robots/delete", Perm: manage.PermProjectAdmin, Handle: u.robotDelete},

		// Policies of a project.
		{Name: "ui_policies", Method: get, Pattern: project + "/policies", Perm: manage.PermProjectRead, Handle: u.policies},
		{Name: "ui_quota_set", Method: post, Pattern: project + "/quota", Perm: manage.PermSystemAdmin, Handle: u.quotaSet},
		{Name: "ui_quota_delete", Method: post, Pattern: project + "/quota/delete", Perm: manage.PermSystemAdmin, Handle: u.quotaDelete},
		{Name: "ui_immutable_add", Method: post, Pattern: project + "/immutable-rules", Perm: manage.PermProjectAdmin, Handle: u.immutableAdd},
		{Name: "ui_immutable_update", Method: post, Pattern: project + "/immutable-rules/update", Perm: manage.PermProjectAdmin, Handle: u.immutableUpdate},
		{Name: "ui_immutable_delete", Method: post, Pattern: project + "/immutable-rules/delete", Perm: manage.PermProjectAdmin, Handle: u.immutableDelete},
		{Name: "ui_retention_set", Method: post, Pattern: project + "/retention", Perm: manage.PermProjectAdmin, Handle: u.retentionSet},
		{Name: "ui_retention_delete", Method: post, Pattern: project + "/retention/delete", Perm: manage.PermProjectAdmin, Handle: u.retentionDelete},
		{Name: "ui_retention_run", Method: post, Pattern: project + "/retention/run", Perm: manage.PermProjectAdmin, Handle: u.retentionRun},

		// Webhooks of a project (webhooks.go).
		{Name: "ui_webhooks", Method: get, Pattern: project + "/webhooks", Perm: manage.PermProjectAdmin, Handle: u.webhooks},
		{Name: "ui_webhook_create", Method: post, Pattern: project + "/webhooks", Perm: manage.PermProjectAdmin, Handle: u.webhookCreate},
		{Name: "ui_webhook", Method: get, Pattern: project + "/webhooks/{id}", Perm: manage.PermProjectAdmin, Handle: u.webhook},
		{Name: "ui_webhook_update", Method: post, Pattern: project + "/webhooks/{id}", Perm: manage.PermProjectAdmin, Handle: u.webhookUpdate},
		{Name: "ui_webhook_delete", Method: post, Pattern: project + "/webhooks/{id}/delete", Perm: manage.PermProjectAdmin, Handle: u.webhookDelete},
		{Name: "ui_webhook_redeliver", Method: post, Pattern: project + "/webhooks/{id}/redeliver", Perm: manage.PermProjectAdmin, Handle: u.webhookRedeliver},
		// Signature policies of a project (docs/signing.md).
		{Name: "ui_signing", Method: get, Pattern: project + "/signing", Perm: manage.PermProjectRead, Handle: u.signing},
		{Name: "ui_signing_rule_add", Method: post, Pattern: project + "/signing/rules", Perm: manage.PermProjectAdmin, Handle: u.signingRuleAdd},
		{Name: "ui_signing_rule_delete", Method: post, Pattern: project + "/signing/rules/delete", Perm: manage.PermProjectAdmin, Handle: u.signingRuleDelete},
		{Name: "ui_signing_key_add", Method: post, Pattern: project + "/signing/keys", Perm: manage.PermProjectAdmin, Handle: u.signingKeyAdd},
		{Name: "ui_signing_key_delete", Method: post, Pattern: project + "/signing/keys/delete", Perm: manage.PermProjectAdmin, Handle: u.signingKeyDelete},

		// Administration (system administrators).
		{Name: "ui_admin", Method: get, Pattern: "/ui/admin", Perm: manage.PermSystemAdmin, Handle: u.adminSystem},
		{Name: "ui_admin_settings", Method: post, Pattern: "/ui/admin/settings", Perm: manage.PermSystemAdmin, Handle: u.adminSettings},
		{Name: "ui_admin_users", Method: get, Pattern: "/ui/admin/users", Perm: manage.PermSystemAdmin, Handle: u.adminUsers},
		{Name: "ui_admin_user_create", Method: post, Pattern: "/ui/admin/users", Perm: manage.PermSystemAdmin, Handle: u.adminUserCreate},
		{Name: "ui_admin_user_admin", Method: post, Pattern: "/ui/admin/users/admin", Perm: manage.PermSystemAdmin, Handle: u.adminUserSetAdmin},
		{Name: "ui_admin_user_disable", Method: post, Pattern: "/ui/admin/users/disable", Perm: manage.PermSystemAdmin, Handle: u.adminUserDisable},
		{Name: "ui_admin_user_password", Method: post, Pattern: "/ui/admin/users/password", Perm: manage.PermSystemAdmin, Handle: u.adminUserPassword},
		{Name: "ui_admin_user_delete", Method: post, Pattern: "/ui/admin/users/delete", Perm: manage.PermSystemAdmin, Handle: u.adminUserDelete},
		{Name: "ui_admin_robots", Method: get, Pattern: "/ui/admin/robots", Perm: manage.PermSystemAdmin, Handle: u.adminRobots},
		{Name: "ui_admin_robot_create", Method: post, Pattern: "/ui/admin/robots", Perm: manage.PermSystemAdmin, Handle: u.adminRobotCreate},
		{Name: "ui_admin_robot_delete", Method: post, Pattern: "/ui/admin/robots/delete", Perm: manage.PermSystemAdmin, Handle: u.adminRobotDelete},
		{Name: "ui_admin_webhooks", Method: get, Pattern: "/ui/admin/webhooks", Perm: manage.PermSystemAdmin, Handle: u.webhooks},
		{Name: "ui_admin_webhook_create", Method: post, Pattern: "/ui/admin/webhooks", Perm: manage.PermSystemAdmin, Handle: u.webhookCreate},
		{Name: "ui_admin_webhook", Method: get, Pattern: "/ui/admin/webhooks/{id}", Perm: manage.PermSystemAdmin, Handle: u.webhook},
		{Name: "ui_admin_webhook_update", Method: post, Pattern: "/ui/admin/webhooks/{id}", Perm: manage.PermSystemAdmin, Handle: u.webhookUpdate},
		{Name: "ui_admin_webhook_delete", Method: post, Pattern: "/ui/admin/webhooks/{id}/delete", Perm: manage.PermSystemAdmin, Handle: u.webhookDelete},
		{Name: "ui_admin_webhook_redeliver", Method: post, Pattern: "/ui/admin/webhooks/{id}/redeliver", Perm: manage.PermSystemAdmin, Handle: u.webhookRedeliver},
		{Name: "ui_admin_gc", Method: get, Pattern: "/ui/admin/gc", Perm: manage.PermSystemAdmin, Handle: u.adminGC},
		{Name: "ui_admin_gc_start", Method: post, Pattern: "/ui/admin/gc", Perm: manage.PermSystemAdmin, Handle: u.adminGCStart},
		{Name: "ui_admin_gc_status", Method: get, Pattern: "/ui/admin/gc/status", Perm: manage.PermSystemAdmin, Handle: u.adminGCStatus},
		{Name: "ui_admin_scrub", Method: get, Pattern: "/ui/admin/scrub", Perm: manage.PermSystemAdmin, Handle: u.adminScrub},
		{Name: "ui_admin_scrub_start", Method: post, Pattern: "/ui/admin/scrub", Perm: manage.PermSystemAdmin, Handle: u.adminScrubStart},
		{Name: "ui_admin_scrub_status", Method: get, Pattern: "/ui/admin/scrub/status", Perm: manage.PermSystemAdmin, Handle: u.adminScrubStatus},
		{Name: "ui_admin_backups", Method: get, Pattern: "/ui/admin/backups", Perm: manage.PermSystemAdmin, Handle: u.adminBackups},
		{Name: "ui_admin_backups_start", Method: post, Pattern: "/ui/admin/backups", Perm: manage.PermSystemAdmin, Handle: u.adminBackupsStart},
		{Name: "ui_admin_backups_status", Method: get, Pattern: "/ui/admin/backups/status", Perm: manage.PermSystemAdmin, Handle: u.adminBackupsStatus},
		{Name: "ui_admin_proxy", Method: get, Pattern: "/ui/admin/proxy", Perm: manage.PermSystemAdmin, Handle: u.adminProxy},
		{Name: "ui_admin_proxy_sync", Method: post, Pattern: "/ui/admin/proxy/sync", Perm: manage.PermSystemAdmin, Handle: u.adminProxySync},
		{Name: "ui_admin_replication", Method: get, Pattern: "/ui/admin/replication", Perm: manage.PermSystemAdmin, Handle: u.adminReplication},
		{Name: "ui_replication_registry_create", Method: post, Pattern: "/ui/admin/replication/registries", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRegistryCreate},
		{Name: "ui_replication_registry_delete", Method: post, Pattern: "/ui/admin/replication/registries/delete", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRegistryDelete},
		{Name: "ui_replication_registry_health", Method: post, Pattern: "/ui/admin/replication/registries/health", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRegistryHealth},
		{Name: "ui_replication_rule_create", Method: post, Pattern: "/ui/admin/replication/rules", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRuleCreate},
		{Name: "ui_replication_rule_delete", Method: post, Pattern: "/ui/admin/replication/rules/delete", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRuleDelete},
		{Name: "ui_replication_run_start", Method: post, Pattern: "/ui/admin/replication/rules/run", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRunStart},
		{Name: "ui_admin_replication_run", Method: get, Pattern: "/ui/admin/replication/runs/{id}", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRun},
		{Name: "ui_replication_run_stop", Method: post, Pattern: "/ui/admin/replication/runs/stop", Perm: manage.PermSystemAdmin, Handle: u.adminReplicationRunStop},
		{Name: "ui_admin_audit", Method: get, Pattern: "/ui/admin/audit", Perm: manage.PermSystemAdmin, Handle: u.adminAudit},
		{Name: "ui_admin_anomalies", Method: get, Pattern: "/ui/admin/anomalies", Perm: manage.PermSystemAdmin, Handle: u.adminAnomalies},
		{Name: "ui_admin_keys", Method: get, Pattern: "/ui/admin/keys", Perm: manage.PermSystemAdmin, Handle: u.adminKeys},
		{Name: "ui_admin_keys_rotate", Method: post, Pattern: "/ui/admin/keys/rotate", Perm: manage.PermSystemAdmin, Handle: u.adminKeysRotate},
	}
}
