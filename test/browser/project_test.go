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
