package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/metatest"
	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // closing twice is fine
	return s
}

func TestStore(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store { return open(t, pgtest.Start(t)) })
}

// Instances starting together against one new database: each Open migrates
// under the advisory lock, then they race to create the same repository,
// blob and manifest.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Start(t)
	const n = 4
	blob := meta.Blob{Digest: digest.FromString("config"), Size: 6}
	m := &meta.Manifest{Repository: "shared", Digest: digest.FromString("m"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte("m"), Blobs: []digest.Digest{blob.Digest}}
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
			if err != nil {
				errs <- fmt.Errorf("open %d: %w", i, err)
				return
			}
			defer s.Close()
			if err := s.PutBlob(ctx, "shared", blob); err != nil {
				errs <- fmt.Errorf("put blob %d: %w", i, err)
			}
			if err := s.PutManifest(ctx, m, []string{fmt.Sprintf("t%d", i), "latest"}); err != nil {
				errs <- fmt.Errorf("put manifest %d: %w", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkSchema(t, dsn)
	s := open(t, dsn)
	tags, err := s.Tags(ctx, "shared", "", 10)
	if want := []string{"latest", "t0", "t1", "t2", "t3"}; err != nil || !slices.Equal(tags, want) {
		t.Fatalf("Tags = %v, %v; want %v", tags, err, want)
	}
}

// Pushes racing to create the same repository and the same manifest all
// succeed (ON CONFLICT DO NOTHING, then read back what the winner made).
func TestConcurrentCreation(t *testing.T) {
	s, err := postgres.Open(ctx, pgtest.Start(t), postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for round := range 10 {
		repo := fmt.Sprintf("r%d", round)
		m := &meta.Manifest{Repository: repo, Digest: digest.FromString("m"), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Content: []byte("m")}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				<-start
				var err error
				if i%2 == 0 {
					err = s.PutBlob(ctx, repo, meta.Blob{Digest: digest.FromString("b"), Size: 1})
				} else {
					err = s.PutManifest(ctx, m, []string{"latest", fmt.Sprint("t", i)})
				}
				if err != nil {
					t.Errorf("%s, goroutine %d: %v", repo, i, err)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if repos, err := s.Repositories(ctx, "", 100); err != nil || len(repos) != 10 {
		t.Fatalf("Repositories = %v, %v", repos, err)
	}
}

func TestConcurrentMigrate(t *testing.T) {
	dsn := pgtest.Start(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			<-start
			if err := postgres.Migrate(ctx, dsn); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	checkSchema(t, dsn)
}

// checkSchema checks every migration was recorded once and the tables exist.
func checkSchema(t *testing.T, dsn string) {
	t.Helper()
	conn := connect(t, dsn)
	var rows, versions int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || rows != versions {
		t.Errorf("schema_migrations: %d rows for %d versions", rows, versions)
	}
	r, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(r, pgx.RowTo[string])
	want := migrationTables(t)
	if err != nil || !slices.Equal(tables, want) {
		t.Errorf("tables = %v, %v; want %v", tables, err, want)
	}
}

// migrationTables lists the tables the migration files create, plus
// schema_migrations, sorted.
func migrationTables(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	want := []string{"schema_migrations"}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range createTable.FindAllStringSubmatch(string(b), -1) {
			want = append(want, m[1])
		}
	}
	slices.Sort(want)
	return want
}

var createTable = regexp.MustCompile(`(?i)CREATE TABLE (?:IF NOT EXISTS )?(\w+)`)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// Migrate waits while another process holds the lock, then finds the work
// done (here: does it, since the holder applies nothing).
func TestMigrateWaitsForTheLock(t *testing.T) {
	dsn := pgtest.Start(t)
	holder := connect(t, dsn)
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, postgres.MigrationLock); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- postgres.Migrate(ctx, dsn) }()
	select {
	case err := <-done:
		t.Fatalf("Migrate did not wait for the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, postgres.MigrationLock); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkSchema(t, dsn)

	// A cancelled wait gives up and leaves nothing behind.
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, postgres.MigrationLock); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := postgres.Migrate(short, dsn); err == nil {
		t.Fatal("Migrate succeeded while the lock was held")
	}
}

func TestReopenKeepsData(t *testing.T) {
	dsn := pgtest.Start(t)
	s := open(t, dsn)
	d := digest.FromString("layer")
	if err := s.PutBlob(ctx, "r", meta.Blob{Digest: d, Size: 5}); err != nil {
		t.Fatal(err)
	}
	m := &meta.Manifest{Repository: "r", Digest: digest.FromString("m"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte("m"), Blobs: []digest.Digest{d}, Annotations: map[string]string{"k": "v"}}
	if err := s.PutManifest(ctx, m, []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dsn)
	if got, err := s.ResolveTag(ctx, "r", "latest"); err != nil || got != m.Digest {
		t.Fatalf("ResolveTag after reopen = %s, %v", got, err)
	}
	if got, err := s.Manifest(ctx, "r", m.Digest); err != nil || got.Annotations["k"] != "v" || string(got.Content) != "m" {
		t.Fatalf("Manifest after reopen = %+v, %v", got, err)
	}
	checkSchema(t, dsn)
}

func TestOpen(t *testing.T) {
	dsn := pgtest.Start(t)
	// pool_* parameters are the pool's, not server settings (Migrate's own
	// connection must not send them either).
	s, err := postgres.Open(ctx, dsn+"&pool_max_conns=3&pool_min_conns=1", postgres.Options{MaxConnIdleTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tags(ctx, "none", "", -1); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Tags of unknown repo = %v", err)
	}
	if _, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/x?connect_timeout=2", postgres.Options{}); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if _, err := postgres.Open(ctx, "postgres://%zz", postgres.Options{}); err == nil {
		t.Fatal("Open of a malformed DSN succeeded")
	}
}

// A blob unlinked while a manifest push checks it: the push waits for the
// unlink (FOR KEY SHARE) and then reports the blob missing, instead of
// storing a manifest whose blob the repository no longer has.
func TestPutManifestRacingUnlink(t *testing.T) {
	dsn := pgtest.Start(t)
	s := open(t, dsn)
	d := digest.FromString("layer")
	if err := s.PutBlob(ctx, "r", meta.Blob{Digest: d, Size: 5}); err != nil {
		t.Fatal(err)
	}
	unlink, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlink.Rollback(ctx)
	if _, err := unlink.Exec(ctx, `DELETE FROM repository_blobs WHERE digest = $1`, d.String()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.PutManifest(ctx, &meta.Manifest{Repository: "r", Digest: digest.FromString("m"),
			MediaType: "application/vnd.oci.image.manifest.v1+json", Content: []byte("m"), Blobs: []digest.Digest{d}}, nil)
	}()
	select {
	case err := <-done:
		t.Fatalf("PutManifest did not wait for the unlink: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := unlink.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var missing *meta.MissingError
	if err := <-done; !errors.As(err, &missing) || missing.Digest != d {
		t.Fatalf("PutManifest after the unlink = %v, want the blob missing", err)
	}
}
