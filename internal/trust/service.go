package trust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// ErrConflict: trust material of that name exists (409).
var ErrConflict = errors.New("conflict")

// Store is what the service needs of the metadata store.
type Store interface {
	Source
	meta.SigningStore
}

// Options wire the service.
type Options struct {
	// RoleOf returns the caller's role in a project ("" for none), for
	// exemptions by role. nil: no role is ever exempt.
	RoleOf func(ctx context.Context, project string) string
	// Caller names the caller (kind "robot" or "user", name, system
	// administrator); nil: anonymous.
	Caller func(ctx context.Context) (kind, name string, admin bool)
	// Record writes an audit event (refused and audited pulls); nil: none.
	Record func(e meta.AuditEvent)
	// QueueSize bounds the verifications waiting after pushes of
	// signatures; 0 is 1024.
	QueueSize int
	// PolicyTTL is how long the gate remembers that a project has never
	// had a signature policy, so that pulls from such projects (the usual
	// case) do not query the database each time; 0 is 10 s. A change made
	// through this instance applies at once, one made through another
	// instance sharing the database within PolicyTTL (as the
	// vulnerability gate's policies).
	PolicyTTL time.Duration
}

// Service manages signature policies and trust material, verifies
// manifests and gates pulls.
type Service struct {
	store   Store
	v       *Verifier
	opts    Options
	log     *slog.Logger
	sf      singleflight.Group
	queue   chan job
	metrics *metrics

	busy atomic.Int64 // verifications queued or running

	// unpoliced: projects without a signature policy, until when (see
	// Options.PolicyTTL); changes counts local policy changes, so that a
	// lookup that raced one is not remembered.
	unpoliced sync.Map // project → time.Time
	changes   atomic.Int64

	mu    sync.Mutex
	cache map[string]decodedEntry // by repository@digest
}

// New returns the service over the metadata store and blob storage.
func New(store Store, blobs BlobOpener, opts Options, log *slog.Logger) *Service {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.PolicyTTL <= 0 {
		opts.PolicyTTL = 10 * time.Second
	}
	return &Service{store: store, v: NewVerifier(store, blobs, log), opts: opts, log: log,
		queue: make(chan job, opts.QueueSize), metrics: newMetrics(), cache: map[string]decodedEntry{}}
}

// changed follows a change of the project's policy: on success its
// stored results are verified again in the background.
func (s *Service) changed(project string, err error) error {
	s.changes.Add(1)
	s.unpoliced.Delete(project)
	if err != nil {
		return storeErr(err)
	}
	s.policyChanged(project)
	return nil
}

func storeErr(err error) error {
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case errors.Is(err, meta.ErrConflict):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// Rules lists a project's rules.
func (s *Service) Rules(ctx context.Context, project string) ([]Rule, error) {
	stored, err := s.store.SigningRules(ctx, project)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(stored))
	for _, sr := range stored {
		r, err := ruleFrom(sr)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// AddRule validates and stores a rule.
func (s *Service) AddRule(ctx context.Context, project string, r Rule) (Rule, error) {
	m, err := s.checkRule(ctx, project, r)
	if err != nil {
		return r, err
	}
	m, err = s.store.AddSigningRule(ctx, m)
	r.ID = m.ID
	return r, s.changed(project, err)
}

// UpdateRule replaces rule r.ID.
func (s *Service) UpdateRule(ctx context.Context, project string, r Rule) (Rule, error) {
	m, err := s.checkRule(ctx, project, r)
	if err != nil {
		return r, err
	}
	m.ID = r.ID
	return r, s.changed(project, s.store.UpdateSigningRule(ctx, m))
}

// DeleteRule removes a rule.
func (s *Service) DeleteRule(ctx context.Context, project string, id int64) error {
	return s.changed(project, s.store.DeleteSigningRule(ctx, project, id))
}

// checkRule validates a rule, including that the material it names exists.
func (s *Service) checkRule(ctx context.Context, project string, r Rule) (meta.SigningRule, error) {
	if err := r.validate(); err != nil {
		return meta.SigningRule{}, err
	}
	ms, err := s.store.TrustMaterials(ctx, project)
	if err != nil {
		return meta.SigningRule{}, err
	}
	kinds := map[string]string{}
	for _, m := range ms {
		kinds[m.Name] = m.Kind
	}
	for _, k := range r.CosignKeys {
		if kinds[k] != KindCosignKey {
			return meta.SigningRule{}, fmt.Errorf("%w: project %s has no cosign key %q", ErrInvalid, project, k)
		}
	}
	for _, k := range r.Keyless {
		if kinds[k.TrustedRoot] != KindTrustedRoot {
			return meta.SigningRule{}, fmt.Errorf("%w: project %s has no trusted root %q", ErrInvalid, project, k.TrustedRoot)
		}
	}
	spec, err := r.spec()
	return meta.SigningRule{Project: project, Repositories: r.Repositories, Mode: r.Mode, Spec: spec}, err
}

// Materials lists a project's trust material (public: keys, roots and
// certificates, never private keys).
func (s *Service) Materials(ctx context.Context, project string) ([]meta.TrustMaterial, error) {
	return s.store.TrustMaterials(ctx, project)
}

// AddMaterial validates and stores trust material.
func (s *Service) AddMaterial(ctx context.Context, m meta.TrustMaterial) (meta.TrustMaterial, error) {
	m.Data = strings.TrimSpace(m.Data) + "\n"
	if _, err := parseMaterial(m); err != nil {
		return m, err
	}
	m, err := s.store.AddTrustMaterial(ctx, m)
	return m, s.changed(m.Project, err)
}

// DeleteMaterial removes trust material. Rules naming it stop accepting
// its signatures (the policy version changes).
func (s *Service) DeleteMaterial(ctx context.Context, project string, id int64) error {
	return s.changed(project, s.store.DeleteTrustMaterial(ctx, project, id))
}

// Status returns the verification status of a manifest: the stored one
// when it is current, else a fresh verification (stored).
func (s *Service) Status(ctx context.Context, repo string, dgst digest.Digest) (*Status, error) {
	version, res, found, err := s.store.SignatureCheck(ctx, policy.ProjectOf(repo), repo, dgst)
	if err != nil {
		return nil, err
	}
	if found && res.Version == version {
		if st, err := decodeStatus(res.Result); err == nil {
			return st, nil
		}
	}
	return s.Reverify(ctx, repo, dgst)
}

// Reverify verifies a manifest now and stores the result. Concurrent
// calls for the same manifest share one verification.
func (s *Service) Reverify(ctx context.Context, repo string, dgst digest.Digest) (*Status, error) {
	v, err, _ := s.sf.Do(repo+"@"+dgst.String(), func() (any, error) {
		st, err := s.v.Evaluate(ctx, repo, dgst)
		if err != nil {
			return nil, storeErr(err)
		}
		s.metrics.observe(st)
		if st.PolicyVersion > 0 {
			if err := s.store.PutSignatureResult(ctx, meta.SignatureResult{Repository: repo, Digest: dgst,
				Version: st.PolicyVersion, Result: st.marshal(), VerifiedAt: st.VerifiedAt}); err != nil {
				return nil, err
			}
		}
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Status), nil
}
