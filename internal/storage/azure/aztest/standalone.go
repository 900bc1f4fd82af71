package aztest

import "github.com/berth-registry/berth/internal/storage/azure"

// Standalone is an Azurite server started outside of a test binary (for the
// benchmark harness); Close stops it and removes its data.
type Standalone struct{ s *server }

// StartStandalone starts a private Azurite on a free loopback port.
func StartStandalone() (*Standalone, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s, err := startServer(bin)
	if err != nil {
		return nil, err
	}
	return &Standalone{s: s}, nil
}

// CreateContainer creates an empty container and returns the Config to reach it.
func (a *Standalone) CreateContainer(name string) (azure.Config, error) {
	return a.s.createContainer(name)
}

// Close stops the server by its PID.
func (a *Standalone) Close() { a.s.shutdown() }
