package browser

import (
	"encoding/json"
	"testing"
)

// TestCreateProject: the form on the projects page refuses a bad name
// with the error beside the field (nothing created), then creates the
// project and lands on its page; the project is in the API.
func TestCreateProject(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/projects")
	form := `main form[action="/ui/projects"][method=post]`

	b.fill(form+` input[name=name]`, "Not A Valid Name!")
	resp := b.click(form + ` button[type=submit]`)
	if resp.Status != 422 {
		t.Errorf("bad name: status %d, want 422", resp.Status)
	}
	if !b.has(form + ` .field-error[role=alert]`) {
		b.fatalf("bad name: no error beside the field")
	}
	if got := b.attr(form+` input[name=name]`, "value"); got != "Not A Valid Name!" {
		t.Errorf("bad name: the field holds %q, want the value typed", got)
	}
	b.shot("projects-invalid")
	var list []struct{ Name string }
	if err := json.Unmarshal(srv.api(t, "GET", "/api/v1/projects", "", 200), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("a refused form created projects: %+v", list)
	}

	b.fill(form+` input[name=name]`, "team-a")
	b.do(chromedpClick(form + ` input[type=checkbox][name=public]`))
	resp = b.click(form + ` button[type=submit]`)
	if resp.Status != 200 {
		t.Fatalf("create: status %d", resp.Status)
	}
	if got := b.path(); got != "/ui/projects/team-a" {
		t.Errorf("after creating at %s, want /ui/projects/team-a", got)
	}
	if !b.has(".flash[role=status]") {
		t.Errorf("no flash message after creating")
	}
	if !b.has("main h1 .badge.public") {
		t.Errorf("the project page does not show the project public")
	}
	b.shot("project")
	var p struct {
		Name   string
		Public bool
	}
	if err := json.Unmarshal(srv.api(t, "GET", "/api/v1/projects/team-a", "", 200), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Public {
		t.Errorf("the project was created private: %+v", p)
	}

	// And it is listed.
	b.click(`header nav a[href="/ui/projects"]`)
	if !b.has(`main table.list a[href="/ui/projects/team-a"]`) {
		t.Errorf("the projects page does not list team-a")
	}
}

// TestQuota: a storage quota set on the policies page ("10MiB") shows a
// usage bar, is the API's quota, and a bad size is refused beside the
// field.
func TestQuota(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo"}`, 201)
	srv.pushRandom(t, "demo/app", "1.0", 1)
	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/projects/demo/policies")
	form := `main form[action="/ui/projects/demo/quota"]`

	b.fill(form+` input[name=storage]`, "lots")
	if resp := b.click(form + ` button[type=submit]`); resp.Status != 422 || !b.has(`main .field-error[role=alert]`) {
		t.Errorf("a bad size: status %d; want 422 and an error beside the field", resp.Status)
	}
	b.consoleErrors() // the 422 page's load is logged as a failed resource
	b.fill(form+` input[name=storage]`, "10MiB")
	if resp := b.click(form + ` button[type=submit]`); resp.Status != 200 || b.has(`main .field-error`) {
		b.fatalf("set the quota: status %d", resp.Status)
	}
	if !b.has(`main meter[max="10485760"]`) {
		t.Errorf("no usage bar against 10 MiB after setting the quota")
	}
	b.shot("policies-quota")
	var q struct {
		StorageBytes int64 `json:"storage_bytes"`
	}
	srv.apiJSON(t, "GET", "/api/v1/projects/demo/quota", "", 200, &q)
	if q.StorageBytes != 10<<20 {
		t.Errorf("the API's quota: %+v, want 10 MiB of storage", q)
	}
	b.noConsoleErrors()
}
