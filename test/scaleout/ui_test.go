package scaleout

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// testUISession: the web UI's sessions live in the shared database. A
// log-in through one instance gives a cookie the other accepts; a log-in
// through nginx (https, a trusted proxy) gives a Secure cookie that both
// accept; a log-out on one instance ends the session on the other.
func testUISession(t *testing.T, c *cluster) {
	noRedirect := &http.Client{
		Transport:     c.client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	login := func(base string) *http.Cookie {
		t.Helper()
		form := url.Values{"username": {"dev"}, "password": {devPassword}, "next": {"/ui/projects"}}
		resp, err := noRedirect.PostForm(base+"/ui/login", form)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("log in at %s: %s, want 303", base, resp.Status)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "berth_session" && ck.Value != "" {
				return ck
			}
		}
		t.Fatalf("log in at %s: no session cookie in %q", base, resp.Header.Values("Set-Cookie"))
		return nil
	}
	// loggedIn says whether base's projects page shows dev logged in.
	loggedIn := func(base string, ck *http.Cookie) bool {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/ui/projects", nil)
		req.AddCookie(ck)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/ui/projects: %s", base, resp.Status)
		}
		return strings.Contains(string(body), `action="/ui/logout"`) && strings.Contains(string(body), ">dev<")
	}
	one, two := c.inst[0].url(""), c.inst[1].url("")

	ck := login(one)
	if ck.Secure {
		t.Errorf("a log-in over plain HTTP set a Secure cookie: it would never come back")
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie: HttpOnly %v, SameSite %v; want HttpOnly, Lax", ck.HttpOnly, ck.SameSite)
	}
	if !loggedIn(one, ck) || !loggedIn(two, ck) {
		t.Fatalf("a session made on %s is not accepted by both instances", c.inst[0].name)
	}

	// Through nginx: TLS ends there, nginx is a trusted proxy.
	viaNginx := login(c.url)
	if !viaNginx.Secure {
		t.Errorf("a log-in through nginx's https did not set a Secure cookie")
	}
	if !loggedIn(one, viaNginx) || !loggedIn(two, viaNginx) || !loggedIn(c.url, viaNginx) {
		t.Errorf("a session made through nginx is not accepted by both instances")
	}

	// Log out on the other instance: gone on the first too.
	req, _ := http.NewRequest(http.MethodPost, two+"/ui/logout", nil)
	req.AddCookie(ck)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log out at %s: %s, want 303", c.inst[1].name, resp.Status)
	}
	if loggedIn(one, ck) || loggedIn(two, ck) {
		t.Errorf("after a log-out on %s the session still works", c.inst[1].name)
	}
	if !loggedIn(one, viaNginx) {
		t.Errorf("a log-out ended another session of the same user")
	}
}
