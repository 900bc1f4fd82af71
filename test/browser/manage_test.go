package browser

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testproc"
)

// TestMembers: adding a user as a developer of a project through the
// members page; the member is listed and the API has them with that role.
func TestMembers(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/users", `{"name":"alice","password":"alice-password-1"}`, 201)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo"}`, 201)

	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/projects/demo/members")
	form := `main form.form[action="/ui/projects/demo/members"]`
	b.do(chromedpSetValue(form+` select[name=kind]`, "user"))
	b.fill(form+` input[name=name]`, "alice")
	b.do(chromedpSetValue(form+` select[name=role]`, "developer"))
	resp := b.click(form + ` button[type=submit]`)
	if resp.Status != 200 || b.has(form+` .field-error`) {
		b.fatalf("add member: status %d", resp.Status)
	}
	if !b.has(`main form[action="/ui/projects/demo/members/delete"] input[name=name][value=alice]`) {
		t.Errorf("alice is not listed as a member")
	}
	b.shot("members")
	var members []struct{ Kind, Name, Role string }
	srv.apiJSON(t, "GET", "/api/v1/projects/demo/members", "", 200, &members)
	if !slices.ContainsFunc(members, func(m struct{ Kind, Name, Role string }) bool {
		return m.Kind == "user" && m.Name == "alice" && m.Role == "developer"
	}) {
		t.Errorf("members in the API: %+v, want alice as a developer", members)
	}

	// An empty name is refused beside the field.
	b.fill(form+` input[name=name]`, "")
	resp = b.click(form + ` button[type=submit]`)
	if resp.Status != 422 || !b.has(form+` .field-error[role=alert]`) {
		t.Errorf("empty name: status %d, error shown %v; want 422 and an error", resp.Status, b.has(form+` .field-error`))
	}
}

// TestRobot: a robot created on the robots page shows its secret once,
// the copy button copies it, and crane logs in with it and pushes and
// pulls in the project.
func TestRobot(t *testing.T) {
	crane := testproc.Need(t, "crane")
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo"}`, 201)

	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/projects/demo/robots")
	form := `main form[action="/ui/projects/demo/robots"]`
	b.fill(form+` input[name=name]`, "ci")
	for _, a := range []string{"pull", "push"} {
		sel := form + ` input[type=checkbox][name=actions][value=` + a + `]`
		if !eval[bool](b, `document.querySelector("`+strings.ReplaceAll(sel, `"`, `\"`)+`").checked`) {
			b.do(chromedpClick(sel))
		}
	}
	resp := b.click(form + ` button[type=submit]`)
	if resp.Status != 200 && resp.Status != 201 || b.has(form+` .field-error`) {
		b.fatalf("create robot: status %d", resp.Status)
	}
	copies := eval[[]string](b, `[...document.querySelectorAll(".secret [data-copy]")].map(e => e.getAttribute("data-copy"))`)
	if len(copies) != 2 || !strings.Contains(copies[0], "ci") || len(copies[1]) < 16 {
		b.fatalf("the new robot's name and secret: %q", copies)
	}
	robot, secret := copies[0], copies[1]
	b.shot("robot-created")
	b.do(chromedpClick(`.secret button[data-copy="` + secret + `"]`))
	if got := eval[string](b, "navigator.clipboard.readText()"); got != secret {
		t.Errorf("the secret's copy button put %q in the clipboard", got)
	}

	// Shown once: not on the next visit.
	b.open("/ui/projects/demo/robots")
	if b.has(".secret") || strings.Contains(eval[string](b, "document.body.innerHTML"), secret) {
		t.Errorf("the secret is shown again on the next visit")
	}

	// crane with the robot's secret.
	dir := t.TempDir()
	env := []string{"DOCKER_CONFIG=" + filepath.Join(dir, "docker")}
	run(t, env, crane, "auth", "login", srv.Host, "-u", robot, "-p", secret)
	layer := filepath.Join(dir, "layer.tar")
	writeLayer(t, layer)
	ref := srv.Host + "/demo/by-robot:v1"
	run(t, env, crane, "append", "--insecure", "--oci-empty-base", "-t", ref, "-f", layer)
	if got := strings.TrimSpace(run(t, env, crane, "digest", "--insecure", ref)); !strings.HasPrefix(got, "sha256:") {
		t.Errorf("crane digest as the robot: %q", got)
	}
	// And the page shows what it pushed.
	b.open("/ui/repositories/demo/by-robot")
	if !b.has(`main td a[href^="/ui/repositories/demo/by-robot@"]`) {
		t.Errorf("the robot's push is not on the repository page")
	}
	b.noConsoleErrors()
}

// TestGC: a GC run started from the administration page (after the
// confirmation) finishes, the page shows its report, and the space of a
// deleted image is freed.
func TestGC(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo"}`, 201)
	srv.pushRandom(t, "demo/app", "keep", 1)
	gone := srv.pushRandom(t, "demo/app", "gone", 2)
	srv.api(t, "DELETE", "/v2/demo/app/manifests/"+gone.String(), "", 202)

	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/admin/gc")
	b.shot("admin-gc-idle")
	run := `main form[action="/ui/admin/gc"][data-confirm] button[type=submit]`
	answer := b.answerDialog(true)
	b.click(run)
	answer()

	// The page follows the run and reloads when it is done.
	deadline := time.Now().Add(60 * time.Second)
	for !b.settled("main dl.facts", "[data-progress]") {
		if time.Now().After(deadline) {
			b.fatalf("the GC run did not finish on the page within 60 s")
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.shot("admin-gc-done")
	var st struct {
		Running bool
		Last    *struct {
			DryRun    bool  `json:"dry_run"`
			Manifests int64 `json:"manifests"`
			Blobs     int64 `json:"blobs"`
			BlobBytes int64 `json:"blob_bytes"`
		}
	}
	srv.apiJSON(t, "GET", "/api/v1/gc", "", 200, &st)
	if st.Last == nil || st.Last.DryRun || st.Last.Blobs == 0 || st.Last.BlobBytes == 0 {
		t.Errorf("after the run: %+v (last %+v); want a real run that freed blobs", st, st.Last)
	}
	b.noConsoleErrors() // the progress polling included
}

// writeLayer writes a small uncompressed layer tarball.
func writeLayer(t *testing.T, path string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data := []byte("pushed by a robot from the browser test\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
