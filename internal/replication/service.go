// Package replication copies artifacts between Berth and other registries
// (docs/replication.md). An administrator registers remote registries and
// rules: push (Berth to a registry) or pull (a registry to Berth), with
// filters on repositories, tags and artifact types, destination renaming,
// and triggers (manual, a cron schedule, push and deletion events, and a
// periodic reconciliation).
//
// A run of a rule is planned into one task per artifact, stored in the
// metadata database. A jobs.Job (on one instance at a time) plans runs and
// works on their tasks; each task is leased to the instance copying it, so
// a run survives the death of its instance: the next instance to take the
// job takes the tasks whose lease ran out. A failed task is retried with
// exponential back-off, then marked failed with its reason.
//
// Copies are exact (the manifest bytes the source holds, so digests never
// change), and Berth's own side is read and written through its registry
// service, with the origin "replication:<rule>" on the context
// (registry.WithOrigin), so that events of replicated writes do not
// trigger replication back.
package replication

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// JobName is the name of the replication job (a jobs.Job whose run calls
// Work, built by internal/app).
const JobName = "replication"

// Options configure a Service.
type Options struct {
	Config config.Replication
	// Owner identifies this instance in task leases (default random).
	Owner string
	// Wake asks the job scheduler to look at the replication job now
	// (after an event or a manual run); nil: wait for the next interval.
	Wake func(ctx context.Context)
	Log  *slog.Logger
}

// Service manages registries, rules and runs, and does the copying.
type Service struct {
	store   meta.ReplicationStore
	local   local
	opts    Options
	log     *slog.Logger
	metrics *Metrics

	mu      sync.Mutex
	remotes map[string]cachedRemote
	rules   map[string]*ruleState // per rule: bandwidth limiter, mount cache
}

type cachedRemote struct {
	at time.Time
	r  *remote
}

type ruleState struct {
	limit     *limiter
	bandwidth int64
	mounts    mountCache
}

// New returns the replication service over store and Berth's registry.
func New(store meta.ReplicationStore, svc *registry.Service, opts Options) *Service {
	if opts.Owner == "" {
		var b [8]byte
		rand.Read(b[:])
		opts.Owner = hex.EncodeToString(b[:])
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, local: local{svc}, opts: opts, log: opts.Log, metrics: NewMetrics(),
		remotes: map[string]cachedRemote{}, rules: map[string]*ruleState{}}
}

// Metrics returns the service's Prometheus collector.
func (s *Service) Metrics() *Metrics { return s.metrics }

// Registries lists the registered registries (with their secrets: the API
// redacts them).
func (s *Service) Registries(ctx context.Context) ([]Registry, error) {
	docs, err := s.store.ReplicationConfigs(ctx, meta.ReplicationKindRegistry)
	if err != nil {
		return nil, err
	}
	out := make([]Registry, 0, len(docs))
	for _, d := range docs {
		var r Registry
		if err := decode(d, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Registry returns one registry.
func (s *Service) Registry(ctx context.Context, name string) (Registry, error) {
	var r Registry
	d, err := s.store.ReplicationConfig(ctx, meta.ReplicationKindRegistry, name)
	if err != nil {
		return r, notFound(err, "registry "+name)
	}
	return r, decode(d, &r)
}

// PutRegistry creates a registry (create: ErrConflict if the name is
// taken) or replaces one (ErrNotFound if there is none). A secret sent
// back redacted keeps the stored one.
func (s *Service) PutRegistry(ctx context.Context, r Registry, create bool) (Registry, error) {
	if err := s.exists(ctx, meta.ReplicationKindRegistry, r.Name, create); err != nil {
		return r, err
	}
	if r.Password == redacted || r.Token == redacted {
		old, err := s.Registry(ctx, r.Name)
		if err != nil {
			return r, fmt.Errorf("%w: a redacted secret for a new registry", ErrInvalid)
		}
		if r.Password == redacted {
			r.Password = old.Password
		}
		if r.Token == redacted {
			r.Token = old.Token
		}
	}
	if err := r.validate(); err != nil {
		return r, err
	}
	if _, err := newRemote(&r, s.opts.Config.Timeout); err != nil {
		return r, err
	}
	r.UpdatedAt = time.Now().UTC()
	return r, s.put(ctx, meta.ReplicationKindRegistry, r.Name, r)
}

// DeleteRegistry deletes a registry no rule uses.
func (s *Service) DeleteRegistry(ctx context.Context, name string) error {
	rules, err := s.Rules(ctx)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if r.Registry == name {
			return fmt.Errorf("%w: rule %s replicates with registry %s", ErrConflict, r.Name, name)
		}
	}
	return notFound(s.store.DeleteReplicationConfig(ctx, meta.ReplicationKindRegistry, name), "registry "+name)
}

// Health is the answer of a registry's health check.
type Health struct {
	Healthy bool          `json:"healthy"`
	Latency time.Duration `json:"latency_ns"`
	Error   string        `json:"error,omitempty"`
}

// CheckRegistry pings a registry with its credentials.
func (s *Service) CheckRegistry(ctx context.Context, name string) (Health, error) {
	c, err := s.remote(ctx, name)
	if err != nil {
		return Health{}, err
	}
	start := time.Now()
	err = c.Ping(ctx)
	h := Health{Healthy: err == nil, Latency: time.Since(start)}
	if err != nil {
		h.Error = err.Error()
	}
	return h, nil
}

// remote returns the client of a registry, rebuilt when it changed.
func (s *Service) remote(ctx context.Context, name string) (*remote, error) {
	r, err := s.Registry(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.remotes[name]; ok && c.at.Equal(r.UpdatedAt) {
		return c.r, nil
	}
	c, err := newRemote(&r, s.opts.Config.Timeout)
	if err != nil {
		return nil, err
	}
	s.remotes[name] = cachedRemote{at: r.UpdatedAt, r: c}
	return c, nil
}

// Rules lists the rules.
func (s *Service) Rules(ctx context.Context) ([]Rule, error) {
	docs, err := s.store.ReplicationConfigs(ctx, meta.ReplicationKindRule)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(docs))
	for _, d := range docs {
		var r Rule
		if err := decode(d, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Rule returns one rule.
func (s *Service) Rule(ctx context.Context, name string) (Rule, error) {
	var r Rule
	d, err := s.store.ReplicationConfig(ctx, meta.ReplicationKindRule, name)
	if err != nil {
		return r, notFound(err, "rule "+name)
	}
	return r, decode(d, &r)
}

// PutRule creates a rule (create: ErrConflict if the name is taken) or
// replaces one (ErrNotFound if there is none); its registry must exist.
func (s *Service) PutRule(ctx context.Context, r Rule, create bool) (Rule, error) {
	if err := s.exists(ctx, meta.ReplicationKindRule, r.Name, create); err != nil {
		return r, err
	}
	if err := r.validate(); err != nil {
		return r, err
	}
	if _, err := s.Registry(ctx, r.Registry); errors.Is(err, ErrNotFound) {
		return r, fmt.Errorf("%w: registry %q is not registered", ErrInvalid, r.Registry)
	} else if err != nil {
		return r, err
	}
	r.UpdatedAt = time.Now().UTC()
	return r, s.put(ctx, meta.ReplicationKindRule, r.Name, r)
}

// DeleteRule deletes a rule; its runs in flight are stopped.
func (s *Service) DeleteRule(ctx context.Context, name string) error {
	if err := s.store.DeleteReplicationConfig(ctx, meta.ReplicationKindRule, name); err != nil {
		return notFound(err, "rule "+name)
	}
	runs, err := s.store.ActiveReplicationRuns(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Rule == name {
			if err := s.store.EndReplicationRun(ctx, r.ID, meta.RunStopped, "rule deleted"); err != nil && !errors.Is(err, meta.ErrConflict) {
				return err
			}
		}
	}
	return nil
}

// exists checks that a document is absent (create) or present (replace).
func (s *Service) exists(ctx context.Context, kind, name string, create bool) error {
	_, err := s.store.ReplicationConfig(ctx, kind, name)
	switch {
	case err == nil && create:
		return fmt.Errorf("%w: %s %s exists", ErrConflict, kind, name)
	case errors.Is(err, meta.ErrNotFound) && create:
		return nil
	}
	return notFound(err, kind+" "+name)
}

func (s *Service) put(ctx context.Context, kind, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.store.PutReplicationConfig(ctx, meta.ReplicationConfig{Kind: kind, Name: name, Spec: string(b)})
}

func decode(d meta.ReplicationConfig, v any) error {
	if err := json.Unmarshal([]byte(d.Spec), v); err != nil {
		return fmt.Errorf("replication %s %s: stored definition: %w", d.Kind, d.Name, err)
	}
	return nil
}

// notFound maps the store's ErrNotFound to ErrNotFound naming what.
func notFound(err error, what string) error {
	if errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return err
}

// endpoints returns a rule's source and destination.
func (s *Service) endpoints(ctx context.Context, r *Rule) (src, dst Endpoint, err error) {
	c, err := s.remote(ctx, r.Registry)
	if err != nil {
		return nil, nil, err
	}
	if r.Direction == Pull {
		return c, s.local, nil
	}
	return s.local, c, nil
}

// state returns a rule's shared copy state (bandwidth, mounts).
func (s *Service) state(r *Rule) *ruleState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.rules[r.Name]
	if st == nil || st.bandwidth != r.Bandwidth {
		st = &ruleState{limit: newLimiter(r.Bandwidth), bandwidth: r.Bandwidth}
		s.rules[r.Name] = st
	}
	return st
}

// Origin is the origin of a rule's writes (registry.WithOrigin).
func Origin(rule string) string { return "replication:" + rule }

// IsReplicated tells whether an origin is replication's.
func IsReplicated(origin string) bool { return strings.HasPrefix(origin, "replication:") }
