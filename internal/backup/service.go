package backup

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/storage"
)

// ErrNoDestination: a backup or a listing was asked for without a
// configured destination.
var ErrNoDestination = errors.New("backup: no destination: configure backup.destination (or run `berth backup --to DIR`)")

// Where describes a destination without its secrets: the driver
// (filesystem, s3) and where it writes (a directory, s3://bucket/prefix and
// the endpoint). Driver "" when none is configured.
type Where struct {
	Driver   string
	Location string
	Endpoint string
}

// Service is what /api/v1/backup and the web UI's backups page call: the
// job's status and history, a run on demand, and the snapshots of the
// configured destination.
type Service struct {
	Jobs *jobs.API[Request, Report]
	// Where is the configured destination.
	Where Where
	// Open opens the configured destination.
	Open func(ctx context.Context) (storage.Driver, error)
}

// Start asks for a backup to the configured destination; without one it
// returns ErrNoDestination and asks for nothing.
func (s *Service) Start(ctx context.Context) (jobs.RunStatus[Report], error) {
	if s.Where.Driver == "" {
		return jobs.RunStatus[Report]{}, ErrNoDestination
	}
	return s.Jobs.Request(ctx, Request{})
}

// Snapshots lists the complete snapshots of the configured destination,
// oldest first (ErrNoDestination without one).
func (s *Service) Snapshots(ctx context.Context) ([]Snapshot, error) {
	if s.Where.Driver == "" {
		return nil, ErrNoDestination
	}
	dest, err := s.Open(ctx)
	if err != nil {
		return nil, err
	}
	return List(ctx, dest)
}
