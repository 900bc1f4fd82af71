package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/scan/scantest"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
)

// Scanning with two instances on S3 (MinIO) and PostgreSQL: an image
// pushed to one is scanned by the other, which reads its layers from S3;
// each instance loads the database artifact from the shared storage; the
// result is visible on both; a database update is rescanned once (a
// leased job) and both see the new result.
func TestScanScaleOut(t *testing.T) {
	dsn := pgtest.Start(t)
	s3 := s3test.Start(t)
	shared := func(c *config.Config) {
		c.Database.Driver, c.Database.Postgres.DSN = "postgres", dsn
		c.Storage.Driver = "s3"
		c.Storage.S3 = config.S3{Bucket: s3.Bucket, Region: s3.Region, Endpoint: s3.Endpoint, PathStyle: s3.PathStyle,
			AccessKey: s3.AccessKey, SecretKey: s3.SecretKey}
		c.Storage.Redirect.Enabled = false
	}
	s1, s2 := apptest.Start(t, shared), apptest.Start(t, shared)
	scantest.PushImage(t, s1.URL, "team/app", "v1", scantest.ImageLayers(t)...)
	pushDB(t, s1.URL, scantest.Advisories...)
	for _, s := range []*apptest.Server{s1, s2} {
		if err := s.App.LoadVulnDB(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	st, body := call(t, http.MethodPost, s2.URL+"/api/v1/projects/team/scan/app?reference=v1&wait=true", "")
	expect(t, "scan on the other instance", st, body, http.StatusOK, `"findings":4`, `"worst":"ALPINE-TEST-busybox"`)
	st, body = call(t, http.MethodGet, s1.URL+"/api/v1/projects/team/scan-report/app?reference=v1", "")
	expect(t, "the result on the first instance", st, body, http.StatusOK, `"findings":4`, `"layer":"sha256:`)

	more := append([]scantest.Advisory{{ID: "GHSA-test-leftpad", Ecosystem: "npm", Name: "left-pad", Fixed: "1.3.1", Severity: "LOW"}}, scantest.Advisories...)
	version := pushDB(t, s2.URL, more...)
	for _, s := range []*apptest.Server{s1, s2} {
		if err := s.App.LoadVulnDB(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range []*apptest.Server{s1, s2} {
		for {
			st, body := call(t, http.MethodGet, s.URL+"/api/v1/projects/team/scan/app?reference=v1", "")
			if st == http.StatusOK && strings.Contains(body, version.String()) {
				expect(t, "rescanned result", st, body, http.StatusOK, `"findings":5`)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no rescan with database %s: %d %s", version, st, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
