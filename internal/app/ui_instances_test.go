package app_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

// TestUISessionsAcrossInstances: two instances sharing PostgreSQL (as
// behind a load balancer): a session made on one works on the other, and
// a log-out on one ends it on both.
func TestUISessionsAcrossInstances(t *testing.T) {
	dsn := pgtest.Start(t)
	pg := func(c *config.Config) {
		c.Database.Driver, c.Database.Postgres.DSN = "postgres", dsn
		c.Auth.Mode, c.Auth.Admin.Password, c.Auth.BcryptCost = "builtin", adminPassword, 4
	}
	s1 := apptest.Start(t, pg)
	s2 := apptest.Start(t, pg)
	one := newBrowser(t, s1.URL)
	one.login("admin", adminPassword)
	two := newBrowser(t, s2.URL)
	two.c.Jar.SetCookies(mustURL(t, s2.URL), one.c.Jar.Cookies(mustURL(t, s1.URL)))
	if p := two.get("/ui/projects"); !strings.Contains(p.body, `<span class="user">admin</span>`) {
		t.Fatal("the session made on instance 1 does not work on instance 2")
	}
	if p := one.post("/ui/logout", url.Values{}); p.status != 303 {
		t.Fatalf("log-out: %d", p.status)
	}
	if p := two.get("/ui/projects"); strings.Contains(p.body, `class="user"`) {
		t.Fatal("a log-out on instance 1 did not end the session on instance 2")
	}
}
