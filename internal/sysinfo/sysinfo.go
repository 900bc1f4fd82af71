// Package sysinfo describes the running instance for administrators:
// version, storage and database drivers, sources of users, uptime and
// counts, as GET /api/v1/system and the web UI's system page show them.
package sysinfo

import (
	"context"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// Version is set at build time with
// -ldflags "-X github.com/berth-registry/berth/internal/sysinfo.Version=...";
// VersionString falls back to the module version and VCS revision.
var Version = ""

// VersionString is the version of this binary.
func VersionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "dev"
}

// Info is what GET /api/v1/system answers.
type Info struct {
	Version        string    `json:"version"`
	GoVersion      string    `json:"go_version"`
	StorageDriver  string    `json:"storage_driver"`
	DatabaseDriver string    `json:"database_driver"`
	AuthModes      []string  `json:"auth_modes"` // empty: access control off
	Instance       string    `json:"instance"`   // this instance's job owner id
	StartedAt      time.Time `json:"started_at"`
	UptimeSeconds  int64     `json:"uptime_seconds"`
	Counts         Counts    `json:"counts"`
}

// Counts are the registry's sizes across all instances.
type Counts struct {
	Projects     int64 `json:"projects"`
	Repositories int64 `json:"repositories"`
	Users        int64 `json:"users"` // builtin users
	Blobs        int64 `json:"blobs"`
	BlobBytes    int64 `json:"blob_bytes"`
}

// Source gathers the Info of this instance.
type Source struct {
	StorageDriver, DatabaseDriver, Instance string
	AuthModes                               []string
	StartedAt                               time.Time
	// Registry gives the registry-wide counts (as GET /api/v1/statistics),
	// Users the builtin users.
	Registry *registry.Service
	Users    meta.AuthStore
	Now      func() time.Time // default time.Now
}

// Info reports the instance and the registry's counts.
func (s *Source) Info(ctx context.Context) (Info, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	modes := s.AuthModes
	if modes == nil {
		modes = []string{}
	}
	in := Info{Version: VersionString(), GoVersion: runtime.Version(), StorageDriver: s.StorageDriver, DatabaseDriver: s.DatabaseDriver,
		AuthModes: modes, Instance: s.Instance, StartedAt: s.StartedAt.UTC(), UptimeSeconds: int64(now().Sub(s.StartedAt) / time.Second)}
	st, err := s.Registry.Stats(ctx)
	if err != nil {
		return in, err
	}
	users, err := s.Users.Users(ctx)
	if err != nil {
		return in, err
	}
	in.Counts = Counts{Projects: st.Projects, Repositories: st.Repositories, Users: int64(len(users)), Blobs: st.Blobs, BlobBytes: st.StorageBytes}
	return in, nil
}

// Handle serves GET /api/v1/system.
func (s *Source) Handle(w http.ResponseWriter, r *http.Request) error {
	in, err := s.Info(r.Context())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, in)
}
