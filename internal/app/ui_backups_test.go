package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

// TestUIAdminBackups: with a directory as backup.destination, the page
// shows it, "Back up now" runs a backup (the API's run), and its snapshot
// is listed on the page as by GET /api/v1/backup/snapshots; a cross-site
// POST is refused.
func TestUIAdminBackups(t *testing.T) {
	dir := t.TempDir()
	s := startUI(t, func(c *config.Config) {
		c.Backup.Destination = config.BackupDestination{Driver: "filesystem", Filesystem: config.Filesystem{Root: dir}}
		c.Jobs.Poll = 20 * time.Millisecond
	})
	admin := cred{"admin", adminPassword}
	m := &matrix{url: s.URL, admin: admin}
	m.config = m.pushBlob(t, "lib/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "lib/app", []byte("a layer to back up"))
	m.pushManifest(t, "lib/app", "v1")
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)

	want(t, "backups page", b.get("/ui/admin/backups"), 200, "<dd>filesystem</dd>", dir, "No run yet.",
		`action="/ui/admin/backups"`, "Back up now", "The destination holds no complete snapshot yet.", `href="/ui/admin/backups"`)
	if p := b.do("POST", "/ui/admin/backups", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site"}); p.status != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", p.status)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a refused POST backed up: %v", entries)
	}
	wantDone(t, "back up now", b.post("/ui/admin/backups", url.Values{}), "/ui/admin/backups")
	waitIdle(t, b, "/ui/admin/backups/status")

	var list struct {
		Snapshots []struct {
			ID string `json:"id"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(api(t, s.URL, admin, "GET", "/api/v1/backup/snapshots", "", 200)), &list); err != nil || len(list.Snapshots) != 1 {
		t.Fatalf("snapshots after the page's backup: %+v %v", list, err)
	}
	id := list.Snapshots[0].ID
	p := b.get("/ui/admin/backups")
	want(t, "after the backup", p, 200, "The backup is asked for", `<dd class="mono">`+id+`</dd>`,
		"<dd>2 (", "Recent runs", `<span class="badge ok">OK</span>`, `<td class="mono">`+id+`</td><td><time`, "<td>sqlite</td>")
	if n := strings.Count(between(p.body, "Recent runs", "</table>"), "<tr>"); n != 2 { // the header and the run
		t.Fatalf("backup history table: %d rows\n%s", n, p.body)
	}
	want(t, "zh-CN", b.do("GET", "/ui/admin/backups", nil, map[string]string{"Accept-Language": "zh-CN"}), 200, "立即备份", "目标位置中的完整快照")
}

// TestUIAdminBackupsNoDestination: without backup.destination the page
// says so with the command-line hint, and "Back up now" is refused with a
// message (as POST /api/v1/backup, 400), nothing is asked for.
func TestUIAdminBackupsNoDestination(t *testing.T) {
	s := startUI(t, nil)
	admin := cred{"admin", adminPassword}
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	want(t, "backups page", b.get("/ui/admin/backups"), 200, "No backup destination is configured (backup.destination).",
		"<code>berth backup --to DIR</code>", "No run yet.")
	p := b.post("/ui/admin/backups", url.Values{})
	want(t, "refused", p, http.StatusUnprocessableEntity, `<p class="field-error" role="alert">No backup destination is configured: set backup.destination`)
	if strings.Contains(p.body, "Snapshots</h2>") {
		t.Fatal("the page lists snapshots without a destination")
	}
	if body := api(t, s.URL, admin, "POST", "/api/v1/backup", "", 400); !strings.Contains(body, "no destination") {
		t.Fatalf("POST /api/v1/backup without a destination: %s", body)
	}
	if body := api(t, s.URL, admin, "GET", "/api/v1/backup", "", 200); strings.Contains(body, `"pending":true`) {
		t.Fatalf("a refused backup was asked for: %s", body)
	}
}
