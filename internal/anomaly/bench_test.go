package anomaly

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// BenchmarkAggregate measures the anomaly job over a large audit table in
// SQLite: ANOMALY_BENCH_ROWS rows (default 1,000,000; docs/operations.md
// has the figures for 10,000,000) spread over 90 days (the default audit
// retention), 95% pulls, from 2,000 users on their own addresses over
// 2,000 repositories, 1% of them refused. The table is generated inside
// SQLite (not timed); each iteration runs the job from an empty state over
// the whole table, with the default configuration.
//
//	ANOMALY_BENCH_ROWS=10000000 go test -run '^$' -bench Aggregate -benchtime 1x -timeout 60m ./internal/anomaly/
func BenchmarkAggregate(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("ANOMALY_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("ANOMALY_BENCH_ROWS=%q", v)
		}
		rows = n
	}
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "berth.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	span := 90 * 24 * time.Hour
	t0 := time.Now()
	// The table's indexes are dropped while it fills (one million rows a
	// transaction) and made again after: much faster than keeping them.
	indexes := map[string]string{}
	idx, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND sql IS NOT NULL`)
	if err != nil {
		b.Fatal(err)
	}
	for idx.Next() {
		var name, def string
		if err := idx.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		indexes[name] = def
	}
	idx.Close()
	for name := range indexes {
		if _, err := db.ExecContext(ctx, `DROP INDEX `+name); err != nil {
			b.Fatal(err)
		}
	}
	const chunk = 1_000_000
	for from := 0; from < rows; from += chunk {
		_, err = db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO audit_events (at, action, username, repository, reference, digest, status, http_status,
				duration_ns, client_ip, request_id)
			SELECT ? + i * ?, CASE WHEN i % 20 = 0 THEN 'push' ELSE 'pull' END, 'user' || (i * 7919 % 2000),
				'team' || (i % 50) || '/app' || (i * 31 % 40), 'latest', '', 'success',
				CASE WHEN i % 100 = 0 THEN 404 ELSE 200 END, 1000000,
				'10.' || (i * 7919 % 2000 / 250) || '.' || (i * 7919 % 2000 % 250) || '.9', ''
			FROM n`, from+1, min(from+chunk, rows), start.UnixNano(), int64(span)/int64(rows))
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, def := range indexes {
		if _, err := db.ExecContext(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("generated %d audit rows in %v", rows, time.Since(t0).Round(time.Second))
	var size int64
	for _, f := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	b.Logf("database and WAL: %d MiB", size>>20)
	cfg := config.Default().Anomaly
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ResetTimer()
	var rep Report
	for range b.N {
		b.StopTimer()
		for _, q := range []string{`DELETE FROM anomaly_profiles`, `DELETE FROM anomaly_cursor`, `DELETE FROM anomaly_findings`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if rep, err = New(store, cfg, log, nil).Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	b.Logf("last run: %+v", rep)
}
