package main

// Where the servers under test keep their data. "fs": each start gets a
// fresh directory on the local filesystem. "s3": both servers share one
// MinIO started by the harness, each start under its own prefix of one
// bucket; Berth keeps its metadata in a fresh database of a PostgreSQL
// started by the harness (Distribution has no database: it reads
// everything from the store). "azure": Berth stores blobs in one Azurite
// (the Azure Storage emulator) started by the harness, under a prefix per
// start, and its metadata in PostgreSQL; Distribution 2.8's azure driver
// cannot reach an emulator (it builds https://<account>.blob.<realm> URLs),
// so Distribution stays on the local filesystem and the ratios are not
// like for like: read Berth's column for itself. "gcs": the same with
// fake-gcs-server (the GCS emulator, objects on disk) in Azurite's place;
// Distribution 2.8's gcs driver needs Google credentials and cannot be
// pointed at an emulator either.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/storage/azure"
	"github.com/berth-registry/berth/internal/storage/azure/aztest"
	"github.com/berth-registry/berth/internal/storage/gcs"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
	berths3 "github.com/berth-registry/berth/internal/storage/s3"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
)

type backend struct {
	kind      string // "fs", "s3", "azure" or "gcs"
	minio     *s3test.Standalone
	azurite   *aztest.Standalone
	fakegcs   *gcstest.Standalone
	pg        *pgtest.Standalone
	bucket    berths3.Config
	container azure.Config
	gcsBucket gcs.Config

	mu     sync.Mutex
	places map[string]string // data dir -> prefix and database name
	dbs    map[string]string // data dir -> Berth's DSN
}

func startBackend(kind string) (*backend, error) {
	b := &backend{kind: kind, places: map[string]string{}, dbs: map[string]string{}}
	switch kind {
	case "fs":
		return b, nil
	case "s3", "azure", "gcs":
	default:
		return nil, fmt.Errorf("unknown backend %q (fs, s3, azure or gcs)", kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	switch kind {
	case "gcs":
		if b.fakegcs, err = gcstest.StartStandalone(); err != nil {
			return nil, fmt.Errorf("fake-gcs-server: %w", err)
		}
		if b.gcsBucket, err = b.fakegcs.CreateBucket("bench"); err != nil {
			b.close()
			return nil, fmt.Errorf("fake-gcs-server: %w", err)
		}
	case "azure":
		if b.azurite, err = aztest.StartStandalone(); err != nil {
			return nil, fmt.Errorf("azurite: %w", err)
		}
		if b.container, err = b.azurite.CreateContainer("bench"); err != nil {
			b.close()
			return nil, fmt.Errorf("azurite: %w", err)
		}
	default:
		if b.minio, err = s3test.StartStandalone(); err != nil {
			return nil, fmt.Errorf("minio: %w", err)
		}
		if b.bucket, err = b.minio.CreateBucket(ctx, "bench"); err != nil {
			b.close()
			return nil, fmt.Errorf("minio: %w", err)
		}
	}
	if b.pg, err = pgtest.StartStandalone(); err != nil {
		b.close()
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	return b, nil
}

func (b *backend) close() {
	if b.minio != nil {
		b.minio.Close()
	}
	if b.azurite != nil {
		b.azurite.Close()
	}
	if b.fakegcs != nil {
		b.fakegcs.Close()
	}
	if b.pg != nil {
		if err := b.pg.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "regbench: stopping postgresql:", err)
		}
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// place returns the prefix (and database name) standing for a data dir: a
// restart with the same dir finds the same data, as on the filesystem.
func (b *backend) place(dir string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.places[dir]; ok {
		return p
	}
	p := fmt.Sprintf("s%d_%s", len(b.places)+1, unsafeName.ReplaceAllString(strings.ToLower(filepath.Base(dir)), "_"))
	b.places[dir] = p
	return p
}

// berthEnv is the environment that points a Berth start at the backend.
func (b *backend) berthEnv(dir string) ([]string, error) {
	if b == nil || b.kind == "fs" {
		return nil, nil
	}
	name := b.place(dir)
	b.mu.Lock()
	dsn, ok := b.dbs[dir]
	b.mu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		if dsn, err = b.pg.CreateDatabase(ctx, name); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
		b.mu.Lock()
		b.dbs[dir] = dsn
		b.mu.Unlock()
	}
	if b.kind == "gcs" {
		c := b.gcsBucket
		return []string{
			"BERTH_STORAGE_DRIVER=gcs", "BERTH_STORAGE_GCS_BUCKET=" + c.Bucket, "BERTH_STORAGE_GCS_ENDPOINT=" + c.Endpoint,
			"BERTH_STORAGE_GCS_ANONYMOUS=true", "BERTH_STORAGE_GCS_PREFIX=" + name,
			"BERTH_DATABASE_DRIVER=postgres", "BERTH_DATABASE_POSTGRES_DSN=" + dsn,
		}, nil
	}
	if b.kind == "azure" {
		c := b.container
		return []string{
			"BERTH_STORAGE_DRIVER=azure", "BERTH_STORAGE_AZURE_ACCOUNT_NAME=" + c.AccountName,
			"BERTH_STORAGE_AZURE_ACCOUNT_KEY=" + c.AccountKey, "BERTH_STORAGE_AZURE_ENDPOINT=" + c.Endpoint,
			"BERTH_STORAGE_AZURE_CONTAINER=" + c.Container, "BERTH_STORAGE_AZURE_PREFIX=" + name,
			"BERTH_DATABASE_DRIVER=postgres", "BERTH_DATABASE_POSTGRES_DSN=" + dsn,
		}, nil
	}
	c := b.bucket
	return []string{
		"BERTH_STORAGE_DRIVER=s3", "BERTH_STORAGE_S3_BUCKET=" + c.Bucket, "BERTH_STORAGE_S3_PREFIX=" + name,
		"BERTH_STORAGE_S3_REGION=" + c.Region, "BERTH_STORAGE_S3_ENDPOINT=" + c.Endpoint, "BERTH_STORAGE_S3_PATH_STYLE=true",
		"BERTH_STORAGE_S3_ACCESS_KEY=" + c.AccessKey, "BERTH_STORAGE_S3_SECRET_KEY=" + c.SecretKey,
		"BERTH_DATABASE_DRIVER=postgres", "BERTH_DATABASE_POSTGRES_DSN=" + dsn,
	}, nil
}

// distStorage is the storage section of Distribution's configuration.
func (b *backend) distStorage(dir string) string {
	if b == nil || b.kind != "s3" {
		return fmt.Sprintf("  filesystem:\n    rootdirectory: %s\n", dir)
	}
	c := b.bucket
	return fmt.Sprintf(`  s3:
    accesskey: %s
    secretkey: %s
    region: %s
    regionendpoint: %s
    bucket: %s
    rootdirectory: /%s
    secure: false
    v4auth: true
`, c.AccessKey, c.SecretKey, c.Region, c.Endpoint, c.Bucket, b.place(dir))
}

// withoutAWS drops AWS_* variables (AWS_CA_BUNDLE makes Distribution's S3
// driver panic against a plain-HTTP store; the others would redirect the
// SDKs elsewhere).
func withoutAWS(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}
