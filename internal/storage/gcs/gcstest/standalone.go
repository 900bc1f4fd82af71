package gcstest

import "github.com/berth-registry/berth/internal/storage/gcs"

// Standalone is a fake-gcs-server started outside of a test binary (for
// the benchmark harness), storing objects on disk; Close stops it and
// removes its data.
type Standalone struct{ s *server }

// StartStandalone starts a private fake-gcs-server on a free loopback port.
func StartStandalone() (*Standalone, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s, err := startServer(bin, "filesystem")
	if err != nil {
		return nil, err
	}
	return &Standalone{s: s}, nil
}

// CreateBucket creates an empty bucket and returns the Config to reach it.
func (g *Standalone) CreateBucket(name string) (gcs.Config, error) {
	return g.s.createBucket(name)
}

// Close stops the server by its PID.
func (g *Standalone) Close() { g.s.shutdown() }
