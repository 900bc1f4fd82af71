package browser

import (
	"strings"
	"testing"
)

// TestLogin: a wrong password shows the error beside the field and no
// session; the right one logs in (the user's name in the header, the
// session cookie HttpOnly); log-out ends the session on the server.
func TestLogin(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv, "light")

	if st := b.open("/ui/login"); st != 200 {
		t.Fatalf("GET /ui/login: %d", st)
	}
	b.shot("login")
	b.fill("#username", "admin")
	b.fill("#password", "not-the-password")
	resp := b.click(`form[action="/ui/login"] button[type=submit]`)
	if resp.Status != 422 {
		t.Errorf("wrong password: status %d, want 422", resp.Status)
	}
	if !b.has(`form[action="/ui/login"] .field-error[role=alert]`) {
		b.fatalf("wrong password: no error shown beside the field")
	}
	if b.has(`form[action="/ui/logout"]`) {
		t.Errorf("wrong password: logged in anyway")
	}
	if got := b.attr("#username", "value"); got != "admin" {
		t.Errorf("wrong password: user name field %q, want it kept", got)
	}
	b.shot("login-error")

	b.fill("#password", adminPassword)
	resp = b.click(`form[action="/ui/login"] button[type=submit]`)
	if resp.Status != 200 || b.has(".field-error") {
		b.fatalf("right password: status %d", resp.Status)
	}
	if got := b.text("header .user"); got != "admin" {
		t.Errorf("header shows user %q, want admin", got)
	}
	cookie := eval[string](b, "document.cookie")
	if strings.Contains(cookie, "berth_session") {
		t.Errorf("the session cookie is readable from JavaScript (not HttpOnly): %q", cookie)
	}

	// The log-out button ends the session: the page shows the log-in link
	// again.
	b.click(`form[action="/ui/logout"] button[type=submit]`)
	if b.has(`form[action="/ui/logout"]`) {
		t.Errorf("after log-out the log-out button is still shown")
	}
	if !b.has(`header a[href^="/ui/login"]`) {
		t.Errorf("after log-out no log-in link")
	}
	if !b.has(".flash[role=status]") {
		t.Errorf("after log-out no flash message")
	}
}

// TestLoginNext: a log-in from a page's link comes back to that page.
func TestLoginNext(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv, "light")
	b.open("/ui/projects")
	b.click(`header a[href^="/ui/login"]`)
	b.fill("#username", "admin")
	b.fill("#password", adminPassword)
	b.click(`form[action="/ui/login"] button[type=submit]`)
	if got := b.path(); got != "/ui/projects" {
		t.Errorf("after log-in at %s, want /ui/projects", got)
	}
}

// TestAnonymous: a visitor who is not logged in sees the public project
// and not the private one, no administration link, and is sent to the
// log-in page (which comes back afterwards) for the private project.
func TestAnonymous(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"open","public":true}`, 201)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"closed"}`, 201)
	b := newTab(t, srv, "light")
	b.open("/ui/projects")
	if !b.has(`main a[href="/ui/projects/open"]`) {
		t.Errorf("anonymous: the public project is not listed")
	}
	if b.has(`a[href="/ui/projects/closed"]`) {
		t.Errorf("anonymous: the private project is listed")
	}
	if b.has(`a[href^="/ui/admin"]`) || b.has(`form[action="/ui/logout"]`) {
		t.Errorf("anonymous: administration link or log-out button shown")
	}
	b.shot("projects-anonymous")
	b.open("/ui/projects/closed")
	if got := b.path(); !strings.HasPrefix(got, "/ui/login") {
		t.Fatalf("anonymous on a private project: at %s, want the log-in page", got)
	}
	b.fill("#username", "admin")
	b.fill("#password", adminPassword)
	b.click(`form[action="/ui/login"] button[type=submit]`)
	if got := b.path(); got != "/ui/projects/closed" {
		t.Errorf("after log-in at %s, want back at /ui/projects/closed", got)
	}
}
