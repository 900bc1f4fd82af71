package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/scan/scantest"
)

// Vulnerability scanning with real clients (docs/scanning.md): the
// database imported with `berth vulndb import`, an image pushed with
// crane and scanned through the API with exactly the expected findings;
// then the pull gate refuses crane and skopeo with DENIED naming the
// worst finding, lets the exempt robot through, and lets everyone through
// once the findings are allowlisted; the refusal is in the audit log.
func TestScanGateClients(t *testing.T) {
	reg, robot, secret := startAuthRegistryEnv(t, []string{"BERTH_SCAN_DATABASE_POLL=1s", "BERTH_AUDIT_ENABLED=true"})
	reg.admin(t, "POST", "/api/v1/projects", `{"name":"vulndb"}`, 201)

	osv := t.TempDir()
	scantest.WriteOSV(t, osv, scantest.Advisories...)
	cmd := exec.Command(serverBin, "vulndb", "import", "--to", reg.Host+"/vulndb/osv", "--username", "admin", "--insecure", osv)
	cmd.Env = append(os.Environ(), "BERTH_VULNDB_PASSWORD="+e2eAdminPassword, "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "7 advisories") {
		t.Fatalf("berth vulndb import: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(string(reg.admin(t, "GET", "/api/v1/scan/database", "", 200)), `"loaded":true`) {
		if time.Now().After(deadline) {
			t.Fatal("the imported database was not loaded")
		}
		time.Sleep(200 * time.Millisecond)
	}

	c := newClients(t, reg)
	var files []string
	for i, l := range scantest.ImageLayers(t) {
		p := filepath.Join(c.dir, "layer"+string(rune('0'+i))+".tar.gz")
		writeFile(t, p, l)
		files = append(files, "-f", p)
	}
	c.crane("auth", "login", reg.Host, "-u", "admin", "-p", e2eAdminPassword)
	c.crane(append([]string{"append", "--oci-empty-base", "-t", c.ref("team/vuln", "v1"), "--insecure"}, files...)...)
	var res struct {
		Findings int
		Worst    string
		Report   struct{ Findings []struct{ ID string } }
	}
	json.Unmarshal(reg.admin(t, "POST", "/api/v1/projects/team/scan/vuln?reference=v1&wait=true", "", 200), &res)
	var ids []string
	for _, f := range res.Report.Findings {
		ids = append(ids, f.ID)
	}
	if got, want := strings.Join(ids, " "), "ALPINE-TEST-busybox GHSA-test-lodash GHSA-test-jackson GO-TEST-sync"; got != want {
		t.Fatalf("findings %q, want %q", got, want)
	}

	reg.admin(t, "PUT", "/api/v1/projects/team/scan-policy",
		`{"prevent_severity":"high","exempt_robots":["`+robot+`"]}`, 200)
	const denied = "worst: ALPINE-TEST-busybox (critical, CVSS 9.8)"

	dev := newClients(t, reg)
	dev.crane("auth", "login", reg.Host, "-u", "dev", "-p", e2eDevPassword)
	r := dev.exec(runOpts{}, "crane", "manifest", "--insecure", dev.ref("team/vuln", "v1"))
	if r.Err == nil || !strings.Contains(r.Stderr, "DENIED") || !strings.Contains(r.Stderr, denied) {
		t.Fatalf("crane manifest of a blocked image: %v\n%s", r.Err, r.Stderr)
	}
	dev.skopeo("login", "--tls-verify=false", "-u", "dev", "-p", e2eDevPassword, reg.Host)
	r = dev.exec(runOpts{}, "skopeo", "copy", "--src-tls-verify=false", "docker://"+dev.ref("team/vuln", "v1"), "oci:"+filepath.Join(dev.dir, "out")+":v1")
	if r.Err == nil || !strings.Contains(r.Stderr, denied) {
		t.Fatalf("skopeo copy of a blocked image: %v\n%s", r.Err, r.Stderr)
	}

	ci := newClients(t, reg)
	ci.crane("auth", "login", reg.Host, "-u", robot, "-p", secret)
	ci.crane("pull", "--insecure", ci.ref("team/vuln", "v1"), filepath.Join(ci.dir, "img.tar"))

	reg.admin(t, "PUT", "/api/v1/scan/policy", `{"allowlist":[{"id":"CVE-2099-0001"},{"id":"GHSA-test-lodash","expires":"2999-01-01T00:00:00Z"}]}`, 200)
	dev.skopeo("copy", "--src-tls-verify=false", "docker://"+dev.ref("team/vuln", "v1"), "oci:"+filepath.Join(dev.dir, "out")+":v1")

	audit := string(reg.admin(t, "GET", "/api/v1/audit?action=scan.gate", "", 200))
	if !strings.Contains(audit, "ALPINE-TEST-busybox") || !strings.Contains(audit, `"dev"`) {
		t.Errorf("audit log lacks the refused pulls:\n%s", audit)
	}
}
