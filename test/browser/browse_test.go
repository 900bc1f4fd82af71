package browser

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowse: search jumps straight to an artifact for a pasted name:tag
// and for a pasted digest, lists matches for a word; the repository page
// lists the tags; the artifact page shows copy-ready pull commands for the
// host the browser reached, and the copy button puts one in the
// clipboard.
func TestBrowse(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo","public":true}`, 201)
	app10 := srv.pushRandom(t, "demo/app", "1.0", 2)
	app20 := srv.pushRandom(t, "demo/app", "2.0", 1)
	srv.pushRandom(t, "demo/tools", "v1", 1)

	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/")
	b.shot("home")

	// A pasted name:tag in the header's search box.
	search := `header form[action="/ui/search"] input[name=q]`
	b.fill(search, "demo/app:1.0")
	b.submit(search)
	artifact := "/ui/repositories/demo/app@" + app10.String()
	if got := b.path(); got != artifact {
		t.Fatalf("search demo/app:1.0 went to %s, want %s", got, artifact)
	}
	// A pasted digest in the home page's big search box.
	b.open("/ui/")
	big := `main form[action="/ui/search"] input[name=q]`
	b.fill(big, app20.String())
	b.submit(big)
	if got, want := b.path(), "/ui/repositories/demo/app@"+app20.String(); got != want {
		t.Fatalf("search for a digest went to %s, want %s", got, want)
	}
	// A word lists what matches.
	b.fill(search, "app")
	b.submit(search)
	if !strings.HasPrefix(b.path(), "/ui/search") {
		t.Fatalf("search app went to %s, want the results page", b.path())
	}
	b.shot("search")
	b.click(`main a[href="/ui/repositories/demo/app"]`)

	// The repository: one row per tag, linking to the artifact.
	if got := b.path(); got != "/ui/repositories/demo/app" {
		t.Fatalf("at %s, want the repository page", got)
	}
	for tag, d := range map[string]string{"1.0": app10.String(), "2.0": app20.String()} {
		if !b.has(fmt.Sprintf(`main td a[href="/ui/repositories/demo/app@%s"]`, d)) {
			t.Errorf("repository page: no row for tag %s (%s)", tag, d)
		}
	}
	if n := b.count(`main table.list tbody tr`); n != 2 {
		t.Errorf("repository page: %d tag rows, want 2", n)
	}
	b.shot("repository")
	b.click(fmt.Sprintf(`main td a[href$="@%s"]`, app10.String()))
	if got := b.path(); got != artifact {
		t.Fatalf("the tag's link went to %s, want %s", got, artifact)
	}
	b.shot("artifact")

	// The pull commands name the host the browser reached, by tag and by
	// digest.
	copies := eval[[]string](b, `[...document.querySelectorAll("main [data-copy]")].map(e => e.getAttribute("data-copy"))`)
	byTag := "docker pull " + srv.Host + "/demo/app:1.0"
	byDigest := "docker pull " + srv.Host + "/demo/app@" + app10.String()
	for _, want := range []string{byTag, byDigest, app10.String()} {
		if !slices.Contains(copies, want) {
			t.Errorf("no copy button for %q; the buttons copy %q", want, copies)
		}
	}
	// The button puts its command in the clipboard.
	sel := fmt.Sprintf(`main button[data-copy=%q]`, byTag)
	b.do(chromedpClick(sel))
	if got := eval[string](b, "navigator.clipboard.readText()"); got != byTag {
		t.Errorf("after the copy button the clipboard has %q, want %q", got, byTag)
	}
	b.noConsoleErrors()

	// Reached under another name, the commands name that one.
	_, port, _ := strings.Cut(srv.Host, ":")
	other := newTab(t, srv, "light")
	other.do(chromedp.Navigate("http://localhost:" + port + artifact))
	copies = eval[[]string](other, `[...document.querySelectorAll("main [data-copy]")].map(e => e.getAttribute("data-copy"))`)
	if want := "docker pull localhost:" + port + "/demo/app:1.0"; !slices.Contains(copies, want) {
		t.Errorf("reached at localhost:%s, no copy button for %q; the buttons copy %q", port, want, copies)
	}
}

// TestDeleteTag: the delete button of a tag asks first; cancelling keeps
// the tag, confirming deletes it (gone from the page and from /v2/).
func TestDeleteTag(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo"}`, 201)
	srv.pushRandom(t, "demo/app", "keep", 1)
	srv.pushRandom(t, "demo/app", "old", 1)

	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/repositories/demo/app")
	del := `main form[data-confirm]:has(input[name=action][value=delete_tag]):has(input[name=tag][value=old]) button[type=submit]`

	// Cancel: nothing is sent.
	msg := b.answerDialog(false)
	b.do(chromedpClick(del))
	if m := msg(); !strings.Contains(m, "old") {
		t.Errorf("the confirmation %q does not name the tag", m)
	}
	if b.count(del) != 1 || b.path() != "/ui/repositories/demo/app" {
		t.Fatalf("after cancelling the tag's row is gone or the page changed (%s)", b.path())
	}
	if tags := listTags(t, srv, "demo/app"); !slices.Contains(tags, "old") {
		t.Fatalf("cancelled, but the tag is gone: %q", tags)
	}

	// Confirm: the tag goes.
	msg = b.answerDialog(true)
	resp := b.click(del)
	msg()
	if resp.Status != 200 {
		t.Errorf("after the delete: status %d", resp.Status)
	}
	if b.count(del) != 0 {
		t.Errorf("the deleted tag is still listed")
	}
	if !b.has(".flash[role=status]") {
		t.Errorf("no flash message after the delete")
	}
	b.shot("repository-tag-deleted")
	if tags := listTags(t, srv, "demo/app"); !slices.Equal(tags, []string{"keep"}) {
		t.Errorf("tags after the delete: %q, want [keep]", tags)
	}
}

// listTags is GET /v2/NAME/tags/list as the admin.
func listTags(t *testing.T, srv *server, repo string) []string {
	t.Helper()
	var l struct{ Tags []string }
	if err := json.Unmarshal(srv.api(t, "GET", "/v2/"+repo+"/tags/list", "", 200), &l); err != nil {
		t.Fatal(err)
	}
	slices.Sort(l.Tags)
	return l.Tags
}
