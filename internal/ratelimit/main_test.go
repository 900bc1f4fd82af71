package ratelimit_test

import (
	"testing"

	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
