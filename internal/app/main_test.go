package app_test

import (
	"os"
	"testing"

	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
)

// TestMain stops the PostgreSQL and MinIO servers the multi-instance tests
// start.
func TestMain(m *testing.M) { os.Exit(pgtest.Run(func() int { return s3test.Main(m) })) }
