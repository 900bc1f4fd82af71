package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

// TestManifestCacheAcrossInstances (issue #20): two instances on one
// PostgreSQL cache manifest reads, and what one changes the other sees at
// once (LISTEN/NOTIFY): a manifest deleted on A is no longer served by B,
// a tag moved on A resolves to the new manifest on B. A change made behind
// the triggers' back (replication role) shows that B does serve from its
// cache, and a broken listening connection empties it.
func TestManifestCacheAcrossInstances(t *testing.T) {
	dsn := pgtest.Start(t)
	pg := func(c *config.Config) {
		c.Database.Driver, c.Database.Postgres.DSN = "postgres", dsn
		c.Registry.DeleteEnabled = true
	}
	a, b := apptest.Start(t, pg), apptest.Start(t, pg)
	cfg := []byte("{}")
	cd := storeBlob(t, a.URL, "team/app", cfg)
	push := func(tag string, n int) digest.Digest {
		t.Helper()
		body := imageManifest(cd, int64(len(cfg)), cd, int64(len(cfg)), fmt.Sprintf(`,"annotations":{"n":"%d"}`, n))
		if tag == "" {
			tag = digest.FromBytes(body).String()
		}
		if res := send(t, "PUT", a.URL+"/v2/team/app/manifests/"+tag, "", body,
			map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}); res.status != http.StatusCreated {
			t.Fatalf("push: %d %s", res.status, res.body)
		}
		return digest.FromBytes(body)
	}
	get := func(ref string) (int, string) {
		res := send(t, "GET", b.URL+"/v2/team/app/manifests/"+ref, "", nil, nil)
		return res.status, res.header.Get("Docker-Content-Digest")
	}
	// within polls B until check holds; what A changed must show at once
	// (the notification arrives with the commit), here within a second.
	within := func(what string, check func() bool) {
		t.Helper()
		start := time.Now()
		for !check() {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: instance B still serves the old state after %s", what, time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	m1, m2 := push("v1", 1), push("", 2)
	time.Sleep(300 * time.Millisecond) // B's cache follows the database by now
	for range 2 {
		if st, d := get("v1"); st != 200 || d != m1.String() {
			t.Fatalf("B: v1 = %d %s", st, d)
		}
		if st, _ := get(m2.String()); st != 200 {
			t.Fatalf("B: m2 = %d", st)
		}
	}

	// Behind the triggers' back: B keeps serving m2 from its cache.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM manifests WHERE digest = $1`, m2.String()); err != nil {
		t.Fatal(err)
	}
	if st, _ := get(m2.String()); st != 200 {
		t.Fatalf("B does not serve m2 from its cache: %d", st)
	}

	// A deletion on A.
	if res := send(t, "DELETE", a.URL+"/v2/team/app/manifests/"+m1.String(), "", nil, nil); res.status != http.StatusAccepted {
		t.Fatalf("delete on A: %d %s", res.status, res.body)
	}
	within("deleted manifest", func() bool { st, _ := get(m1.String()); return st == 404 })
	within("tag of a deleted manifest", func() bool { st, _ := get("v1"); return st == 404 })

	// A tag created, then moved, on A.
	m3 := push("v2", 3)
	within("new tag", func() bool { _, d := get("v2"); return d == m3.String() })
	m4 := push("v2", 4)
	within("moved tag", func() bool { _, d := get("v2"); return d == m4.String() })
	if st, d := get("v2"); st != 200 || d != m4.String() {
		t.Fatalf("v2 = %d %s", st, d)
	}

	// A listening connection that breaks empties the cache: what was
	// changed while nobody listened is read from the database again.
	m5 := push("", 5)
	get(m5.String())
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN berth_cache'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM manifests WHERE digest = $1`, m5.String()); err != nil {
		t.Fatal(err)
	}
	within("manifest deleted while the feed was down", func() bool { st, _ := get(m5.String()); return st == 404 })
}
