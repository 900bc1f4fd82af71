package app_test

import (
	"testing"

	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

// TestMain stops the PostgreSQL server the multi-instance tests start.
func TestMain(m *testing.M) { pgtest.Main(m) }
