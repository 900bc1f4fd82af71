package postgres_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

// TestUsageAtScale: a project's usage is computed by query, so it must stay
// fast on a big project: 20,000 blobs (each linked twice), 200
// repositories, 2,000 manifests of 10 layers each.
func TestUsageAtScale(t *testing.T) {
	dsn := pgtest.Start(t)
	s := open(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`INSERT INTO repositories (name, created_at) SELECT 'big/r' || i, 0 FROM generate_series(0, 199) i`,
		`INSERT INTO blobs (digest, size, created_at) SELECT 'sha256:' || lpad(i::text, 64, '0'), 1000 + i, 0 FROM generate_series(0, 19999) i`,
		`INSERT INTO repository_blobs (repository_id, digest, created_at)
			SELECT r.id, 'sha256:' || lpad(i::text, 64, '0'), 0 FROM generate_series(0, 19999) i
			JOIN repositories r ON r.name IN ('big/r' || (i % 200), 'big/r' || ((i + 1) % 200))`,
		`INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at)
			SELECT r.id, 'sha256:f' || lpad(i::text, 63, '0'), 'application/vnd.oci.image.manifest.v1+json', 500, '\x00', 0
			FROM generate_series(0, 1999) i JOIN repositories r ON r.name = 'big/r' || (i % 200)`,
		`INSERT INTO manifest_blobs (manifest_id, digest)
			SELECT m.id, 'sha256:' || lpad(i::text, 64, '0') FROM generate_series(0, 19999) i
			JOIN manifests m ON m.digest = 'sha256:f' || lpad((i / 10)::text, 63, '0')`,
		`ANALYZE`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if os.Getenv("EXPLAIN") != "" {
		rows, _ := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+postgres.QUsage, "big", "big/", "big0")
		plan, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		t.Log("\n" + strings.Join(plan, "\n"))
	}
	var wantBytes int64 = 2000 * 500
	for i := range int64(20000) {
		wantBytes += 1000 + i
	}
	took := time.Hour
	for range 3 {
		start := time.Now()
		if _, err := s.ProjectUsage(ctx, "big"); err != nil {
			t.Fatal(err)
		}
		took = min(took, time.Since(start))
	}
	u, err := s.ProjectUsage(ctx, "big")
	if err != nil || u.StorageBytes != wantBytes || u.Blobs != 20000 || u.Manifests != 2000 || u.Repositories != 200 {
		t.Fatalf("ProjectUsage = %+v, %v; want %d bytes", u, err, wantBytes)
	}
	t.Logf("ProjectUsage over 20,000 blobs (40,000 links), 2,000 manifests: %v", took)
	start := time.Now()
	if ok, err := s.InProject(ctx, "big", "sha256:0000000000000000000000000000000000000000000000000000000000012345"); err != nil || !ok {
		t.Fatalf("InProject = %v, %v", ok, err)
	}
	t.Logf("InProject: %v", time.Since(start))
	if took > 2*time.Second {
		t.Errorf("ProjectUsage took %v", took)
	}
}
