package backup

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/storage"
)

// TestJobReportsError: a run that fails leaves its error in the saved
// report (what the API and the backups page show).
func TestJobReportsError(t *testing.T) {
	boom := errors.New("destination unreachable")
	j := Job(JobConfig{Destination: func(context.Context, string) (storage.Driver, error) { return nil, boom }})
	out, err := j.Run(context.Background(), &jobs.Run{})
	if !errors.Is(err, boom) {
		t.Fatalf("run: %v, want %v", err, boom)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Error != boom.Error() || rep.Snapshot != "" {
		t.Fatalf("report %q: %+v, %v", out, rep, err)
	}
}

// TestServiceWithoutDestination: Start and Snapshots refuse with
// ErrNoDestination and ask for nothing.
func TestServiceWithoutDestination(t *testing.T) {
	s := &Service{}
	if _, err := s.Start(context.Background()); !errors.Is(err, ErrNoDestination) {
		t.Fatalf("Start: %v", err)
	}
	if _, err := s.Snapshots(context.Background()); !errors.Is(err, ErrNoDestination) {
		t.Fatalf("Snapshots: %v", err)
	}
}
