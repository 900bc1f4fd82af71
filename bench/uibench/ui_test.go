// Package uibench measures the web UI's list pages with a large registry
// on SQLite (the targets: a project with 10,000 repositories and a
// repository with 10,000 tags under 50 ms a page, the home page with
// 100,000 repositories under 100 ms). Sizes come from UI_BENCH_REPOS
// (default 10000, the project page), UI_BENCH_TAGS (default 10000) and
// UI_BENCH_HOME_REPOS (default 10000; the figure is 100000):
//
//	go test -run '^$' -bench . -benchtime 20x ./bench/uibench/
//	UI_BENCH_HOME_REPOS=100000 go test -run '^$' -bench Home -benchtime 20x ./bench/uibench/
//
// Each page is a request through the whole HTTP stack (httptest, access
// control off), so ns/op is the server time plus a loopback round trip.
package uibench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

func size(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// populate writes repos repositories under project (one tagged image each)
// and tags tags on one more repository, project/tags, straight into a new
// SQLite database, and returns its path.
func populate(b *testing.B, project string, repos, tags int) string {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "berth.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateProject(ctx, meta.Project{Name: project}); err != nil {
		b.Fatal(err)
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd := digest.FromBytes(cfg)
	image := func(repo string, n int) *meta.Manifest {
		body := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[],"annotations":{"n":"%d"}}`, cd, len(cfg), n)
		return &meta.Manifest{Repository: repo, Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Content: body, Blobs: []digest.Digest{cd}}
	}
	for i := range repos {
		repo := fmt.Sprintf("%s/repo-%06d", project, i)
		if err := store.PutBlob(ctx, repo, meta.Blob{Digest: cd, Size: int64(len(cfg))}); err != nil {
			b.Fatal(err)
		}
		if err := store.PutManifest(ctx, image(repo, i), []string{"v1.0." + strconv.Itoa(i%100)}); err != nil {
			b.Fatal(err)
		}
	}
	repo := project + "/tags"
	if err := store.PutBlob(ctx, repo, meta.Blob{Digest: cd, Size: int64(len(cfg))}); err != nil {
		b.Fatal(err)
	}
	for i := range tags {
		if err := store.PutManifest(ctx, image(repo, i), []string{fmt.Sprintf("v%d.%d.%d", i/1000, i/10%100, i%10)}); err != nil {
			b.Fatal(err)
		}
	}
	return path
}

func start(b *testing.B, db string) *apptest.Server {
	return apptest.Start(b, func(c *config.Config) {
		c.Database.SQLite.Path = db
		c.Log.Level = "error"
	})
}

func get(b *testing.B, url string) {
	res, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || n == 0 {
		b.Fatalf("%s: %d", url, res.StatusCode)
	}
}

func BenchmarkProjectPage(b *testing.B) {
	repos := size("UI_BENCH_REPOS", 10000)
	s := start(b, populate(b, "big", repos, 0))
	for _, tc := range []struct{ name, query string }{
		{"name", "?offset=" + strconv.Itoa(repos/2)},
		{"pushed", "?sort=pushed&offset=" + strconv.Itoa(repos/2)},
		{"pulls", "?sort=pulls"},
		{"filter", "?q=repo-00"},
	} {
		b.Run(fmt.Sprintf("%drepos/%s", repos, tc.name), func(b *testing.B) {
			for range b.N {
				get(b, s.URL+"/ui/projects/big"+tc.query)
			}
		})
	}
}

func BenchmarkTagPage(b *testing.B) {
	tags := size("UI_BENCH_TAGS", 10000)
	s := start(b, populate(b, "big", 1, tags))
	for _, tc := range []struct{ name, query string }{
		{"name", "?offset=" + strconv.Itoa(tags/2)},
		{"semver", "?sort=semver&offset=" + strconv.Itoa(tags/2)},
		{"pushed", "?sort=pushed"},
		{"filter", "?q=v1.2"},
	} {
		b.Run(fmt.Sprintf("%dtags/%s", tags, tc.name), func(b *testing.B) {
			for range b.N {
				get(b, s.URL+"/ui/repositories/big/tags"+tc.query)
			}
		})
	}
}

func BenchmarkHome(b *testing.B) {
	repos := size("UI_BENCH_HOME_REPOS", 10000)
	s := start(b, populate(b, "big", repos, 0))
	b.Run(fmt.Sprintf("%drepos", repos), func(b *testing.B) {
		for range b.N {
			get(b, s.URL+"/ui/")
		}
	})
	b.Run(fmt.Sprintf("%drepos/search", repos), func(b *testing.B) {
		for range b.N {
			get(b, s.URL+"/ui/search?q=repo-0042")
		}
	})
}
