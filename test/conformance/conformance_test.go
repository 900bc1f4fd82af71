package conformance

import (
	"os"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/storage/azure/aztest"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
)

// TestMain stops the PostgreSQL, MinIO, Azurite and fake-gcs-server
// servers the tests start.
func TestMain(m *testing.M) {
	os.Exit(pgtest.Run(func() int {
		defer aztest.Stop()
		defer gcstest.Stop()
		return s3test.Main(m)
	}))
}

// TestConformancePostgres runs the whole suite against an in-process Berth
// whose metadata store is a real PostgreSQL.
func TestConformancePostgres(t *testing.T) {
	if os.Getenv("CONFORMANCE_URL") != "" {
		t.Skip("CONFORMANCE_URL names an external registry")
	}
	dsn := pgtest.Start(t)
	srv := apptest.Start(t, func(c *config.Config) {
		c.Database.Driver = "postgres"
		c.Database.Postgres.DSN = dsn
	})
	Run(t, srv.URL)
}

// TestConformanceScaleOut runs the whole suite against the scale-out
// configuration: PostgreSQL metadata and blobs in a real S3 server (MinIO),
// with blob downloads redirected to presigned URLs.
func TestConformanceScaleOut(t *testing.T) {
	if os.Getenv("CONFORMANCE_URL") != "" {
		t.Skip("CONFORMANCE_URL names an external registry")
	}
	dsn := pgtest.Start(t)
	s3cfg := s3test.Start(t)
	srv := apptest.Start(t, func(c *config.Config) {
		c.Database.Driver = "postgres"
		c.Database.Postgres.DSN = dsn
		c.Storage.Driver = "s3"
		c.Storage.S3 = config.S3{
			Bucket: s3cfg.Bucket, Region: s3cfg.Region, Endpoint: s3cfg.Endpoint, PathStyle: s3cfg.PathStyle,
			AccessKey: s3cfg.AccessKey, SecretKey: s3cfg.SecretKey, PartSize: config.ByteSize(s3cfg.PartSize),
		}
	})
	Run(t, srv.URL)
}

// TestConformanceAzure runs the whole suite against a Berth that stores its
// blobs in Azure Blob Storage (a real Azurite), with small blocks so that
// chunked uploads span several. Redirects stay off: Azurite answers a
// suffix range (bytes=-7) with Content-Length "NaN" and an unsatisfiable
// range with 206; the driver tests fetch its SAS URLs themselves.
func TestConformanceAzure(t *testing.T) {
	if os.Getenv("CONFORMANCE_URL") != "" {
		t.Skip("CONFORMANCE_URL names an external registry")
	}
	az := aztest.Start(t)
	srv := apptest.Start(t, func(c *config.Config) {
		c.Storage.Driver = "azure"
		c.Storage.Azure = config.Azure{
			AccountName: az.AccountName, AccountKey: az.AccountKey, Endpoint: az.Endpoint,
			Container: az.Container, Prefix: "registry", BlockSize: 1 << 20,
		}
		c.Storage.Redirect.Enabled = false
	})
	Run(t, srv.URL)
}

// TestConformanceGCS runs the whole suite against a Berth that stores its
// blobs in Google Cloud Storage (a real fake-gcs-server), with 256 KiB
// chunks so that chunked uploads compose several parts, and blob downloads
// redirected to V4 signed URLs on the emulator (signed with a test
// service-account key; the emulator serves them without checking).
func TestConformanceGCS(t *testing.T) {
	if os.Getenv("CONFORMANCE_URL") != "" {
		t.Skip("CONFORMANCE_URL names an external registry")
	}
	g := gcstest.Start(t)
	key := gcstest.KeyFile(t)
	srv := apptest.Start(t, func(c *config.Config) {
		c.Storage.Driver = "gcs"
		c.Storage.GCS = config.GCS{
			Bucket: g.Bucket, Endpoint: g.Endpoint, Anonymous: g.Anonymous, CredentialsFile: key,
			Prefix: "registry", ChunkSize: 256 << 10,
		}
		c.Storage.Redirect.Enabled = true
	})
	Run(t, srv.URL)
}

// TestConformance runs the suite against the registry named by
// CONFORMANCE_URL (for example http://127.0.0.1:5001), or against an
// in-process Berth when that is unset.
//
// CONFORMANCE_SKIP takes a comma-separated list of optional areas to leave
// out, for registries that predate them: sha512, referrers, multitag.
//
//	CONFORMANCE_URL=http://127.0.0.1:5001 go test ./test/conformance/
//	CONFORMANCE_URL=http://127.0.0.1:5001 CONFORMANCE_SKIP=sha512,referrers,multitag go test ./test/conformance/
func TestConformance(t *testing.T) {
	target := os.Getenv("CONFORMANCE_URL")
	if target == "" {
		target = apptest.Start(t, nil).URL
	}
	var opts Options
	for _, s := range strings.Split(os.Getenv("CONFORMANCE_SKIP"), ",") {
		switch strings.TrimSpace(strings.ToLower(s)) {
		case "":
		case "sha512":
			opts.SkipSHA512 = true
		case "referrers":
			opts.SkipReferrers = true
		case "multitag":
			opts.SkipMultiTag = true
		default:
			t.Fatalf("CONFORMANCE_SKIP: unknown area %q (known: sha512, referrers, multitag)", s)
		}
	}
	RunWithOptions(t, target, opts)
}
