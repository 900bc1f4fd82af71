package pgtest

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Standalone is a PostgreSQL server started outside of a test binary (for
// the benchmark harness); Close stops it and removes its data.
type Standalone struct{ s *server }

// StartStandalone starts a private PostgreSQL server on a free loopback port.
func StartStandalone() (*Standalone, error) {
	s, err := startServer()
	if err != nil {
		return nil, err
	}
	return &Standalone{s: s}, nil
}

// CreateDatabase creates an empty database and returns its DSN.
func (p *Standalone) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := p.s.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return p.s.dsn(name), nil
}

// Close stops the server.
func (p *Standalone) Close() error { return p.s.stop() }
