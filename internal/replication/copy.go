package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/registry"
)

// copier copies artifacts of one repository to another registry, exactly:
// manifests are sent as the bytes the source holds (so digests never
// change), an index with every child, blobs streamed from one side to the
// other (never held in memory) after checking whether the destination has
// them or can mount them, then the artifact's referrers and cosign tags.
type copier struct {
	src, dst         Endpoint
	srcRepo, dstRepo string
	f                *filter
	referrers        bool
	override         bool
	limit            *limiter
	mounts           *mountCache
	bytes            atomic.Int64
	changed          bool // something was written at the destination
	blobsDone        map[digest.Digest]bool
	manifestsDone    map[digest.Digest]bool
}

// errSkip: the artifact is not replicated; the message says why.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

// maxDepth bounds nested indexes and referrers of referrers.
const maxDepth = 4

// copyRef replicates one tag or digest with everything it references
// and, when the rule says so, its referrers.
func (c *copier) copyRef(ctx context.Context, ref string) error {
	c.blobsDone, c.manifestsDone = map[digest.Digest]bool{}, map[digest.Digest]bool{}
	m, err := c.src.Manifest(ctx, c.srcRepo, ref)
	if errors.Is(err, ErrNotFound) {
		return errSkip{"gone at the source"}
	}
	if err != nil {
		return err
	}
	parsed, err := registry.ParseManifest(m.MediaType, m.Content)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, ref, err)
	}
	if !isCosignTag(ref) && !c.f.artifactType(parsed.ArtifactType) {
		return errSkip{"artifact type " + parsed.ArtifactType + " is not selected"}
	}
	_, isDigest := parseDigest(ref)
	if isDigest && parsed.Subject == "" {
		// Pushed by digest alone (an index's child, before the index):
		// it travels with whatever tag or subject references it.
		return errSkip{"untagged and without a subject"}
	}
	if !isDigest {
		have, err := c.dst.ManifestDigest(ctx, c.dstRepo, ref)
		switch {
		case err == nil && have == m.Digest:
			// The tag is current; its referrers may not be.
		case err == nil && !c.override:
			return errSkip{fmt.Sprintf("tag exists at the destination as %s (override is off)", have)}
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		default:
			if err := c.putTree(ctx, m, ref, 0); err != nil {
				return err
			}
		}
	} else if err := c.putTree(ctx, m, ref, 0); err != nil {
		return err
	}
	if c.referrers {
		if err := c.copyReferrers(ctx, m.Digest, 0); err != nil {
			return err
		}
	}
	if !c.changed {
		return errSkip{"up to date"}
	}
	return nil
}

func parseDigest(ref string) (digest.Digest, bool) {
	d, err := digest.Parse(ref)
	return d, err == nil
}

// putTree writes manifest m under ref at the destination after what it
// references: child manifests (an index's platforms) and blobs.
func (c *copier) putTree(ctx context.Context, m Manifest, ref string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: manifest %s: nested too deep", ErrInvalid, m.Digest)
	}
	if _, isDigest := parseDigest(ref); isDigest {
		if c.manifestsDone[m.Digest] {
			return nil
		}
		if _, err := c.dst.ManifestDigest(ctx, c.dstRepo, ref); err == nil {
			c.manifestsDone[m.Digest] = true
			return nil // there already, with all it references
		}
	}
	parsed, err := registry.ParseManifest(m.MediaType, m.Content)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, m.Digest, err)
	}
	for _, d := range parsed.Children {
		child, err := c.src.Manifest(ctx, c.srcRepo, d.String())
		if err != nil {
			return fmt.Errorf("child %s: %w", d, err)
		}
		if err := c.putTree(ctx, child, d.String(), depth+1); err != nil {
			return err
		}
	}
	for _, d := range parsed.Blobs {
		if err := c.copyBlob(ctx, d); err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
	}
	indexed, err := c.dst.PutManifest(ctx, c.dstRepo, ref, m)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", m.Digest, err)
	}
	c.changed = true
	c.manifestsDone[m.Digest] = true
	if parsed.Subject != "" && !indexed {
		desc := v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Content)),
			ArtifactType: parsed.ArtifactType, Annotations: parsed.Annotations}
		if err := c.addFallbackReferrer(ctx, parsed.Subject, desc); err != nil {
			return fmt.Errorf("referrers tag of %s: %w", parsed.Subject, err)
		}
	}
	return nil
}

// copyBlob makes blob d readable in the destination repository: nothing
// to do if it is there, a mount if another repository this rule wrote has
// it, else a streamed copy.
func (c *copier) copyBlob(ctx context.Context, d digest.Digest) error {
	if c.blobsDone[d] {
		return nil
	}
	has, err := c.dst.HasBlob(ctx, c.dstRepo, d)
	if err != nil {
		return err
	}
	if !has {
		if from := c.mounts.get(d); from != "" && from != c.dstRepo {
			if ok, err := c.dst.MountBlob(ctx, c.dstRepo, from, d); err == nil && ok {
				has = true
			}
		}
	}
	if !has {
		rc, size, err := c.src.OpenBlob(ctx, c.srcRepo, d)
		if err != nil {
			return err
		}
		defer rc.Close()
		r := &countingReader{r: rc, ctx: ctx, limit: c.limit, n: &c.bytes}
		if err := c.dst.PutBlob(ctx, c.dstRepo, d, size, r); err != nil {
			return err
		}
		c.changed = true
	}
	c.blobsDone[d] = true
	c.mounts.put(d, c.dstRepo)
	return nil
}

// copyReferrers copies the referrers of d (signatures, SBOMs,
// attestations: through the referrers API or its tag scheme) and cosign's
// tags of d, and their own referrers in turn.
func (c *copier) copyReferrers(ctx context.Context, d digest.Digest, depth int) error {
	if depth >= maxDepth {
		return nil
	}
	descs, err := c.src.Referrers(ctx, c.srcRepo, d)
	if err != nil {
		return fmt.Errorf("referrers of %s: %w", d, err)
	}
	for _, desc := range descs {
		rm, err := c.src.Manifest(ctx, c.srcRepo, desc.Digest.String())
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return fmt.Errorf("referrer %s: %w", desc.Digest, err)
		}
		if err := c.putTree(ctx, rm, desc.Digest.String(), 0); err != nil {
			return err
		}
		if err := c.copyReferrers(ctx, desc.Digest, depth+1); err != nil {
			return err
		}
	}
	for _, suffix := range cosignSuffixes {
		tag := fallbackTag(d) + suffix
		sd, err := c.src.ManifestDigest(ctx, c.srcRepo, tag)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("tag %s: %w", tag, err)
		}
		if have, err := c.dst.ManifestDigest(ctx, c.dstRepo, tag); err == nil && have == sd {
			continue
		}
		sm, err := c.src.Manifest(ctx, c.srcRepo, tag)
		if err != nil {
			return fmt.Errorf("tag %s: %w", tag, err)
		}
		if err := c.putTree(ctx, sm, tag, 0); err != nil {
			return err
		}
	}
	return nil
}

// addFallbackReferrer adds desc to the referrers tag scheme's index of
// subject at a destination without the referrers API (what oras and
// regclient do when pushing there).
func (c *copier) addFallbackReferrer(ctx context.Context, subject digest.Digest, desc v1.Descriptor) error {
	tag := fallbackTag(subject)
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}
	idx.SchemaVersion = 2
	cur, err := c.dst.Manifest(ctx, c.dstRepo, tag)
	switch {
	case err == nil:
		if err := json.Unmarshal(cur.Content, &idx); err != nil {
			return fmt.Errorf("%w: the index under %s: %v", ErrInvalid, tag, err)
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	for _, m := range idx.Manifests {
		if m.Digest == desc.Digest {
			return nil
		}
	}
	idx.Manifests = append(idx.Manifests, desc)
	body, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	_, err = c.dst.PutManifest(ctx, c.dstRepo, tag, Manifest{MediaType: v1.MediaTypeImageIndex, Digest: digest.FromBytes(body), Content: body})
	return err
}

// deleteRef deletes a tag or a manifest at the destination. Where the
// registry cannot delete a tag alone (Distribution 2.8), the manifest is
// deleted by digest, unless another tag there points at it too.
func (c *copier) deleteRef(ctx context.Context, ref string) error {
	err := c.dst.DeleteManifest(ctx, c.dstRepo, ref)
	if errors.Is(err, ErrNotFound) {
		return errSkip{"already gone at the destination"}
	}
	if _, isDigest := parseDigest(ref); isDigest || !errors.Is(err, ErrUnsupported) {
		return err
	}
	d, err := c.dst.ManifestDigest(ctx, c.dstRepo, ref)
	if errors.Is(err, ErrNotFound) {
		return errSkip{"already gone at the destination"}
	}
	if err != nil {
		return err
	}
	tags, err := c.dst.Tags(ctx, c.dstRepo)
	if err != nil {
		return err
	}
	if len(tags) > maxSharedCheck {
		return errSkip{fmt.Sprintf("the destination cannot delete a tag alone, and has too many tags (%d) to check that %s is not shared", len(tags), d)}
	}
	for _, t := range tags {
		if t == ref {
			continue
		}
		if other, err := c.dst.ManifestDigest(ctx, c.dstRepo, t); err == nil && other == d {
			return errSkip{fmt.Sprintf("the destination cannot delete a tag alone, and tag %s points at %s too", t, d)}
		}
	}
	return c.dst.DeleteManifest(ctx, c.dstRepo, d.String())
}

// maxSharedCheck bounds the tags looked at before a digest deletion.
const maxSharedCheck = 200

// countingReader counts the bytes read (into n) and paces them to the
// rule's bandwidth.
type countingReader struct {
	r     io.Reader
	ctx   context.Context
	limit *limiter
	n     *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.limit != nil && len(p) > 256<<10 {
		p = p[:256<<10] // small steps keep the pace smooth
	}
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	if n > 0 {
		if werr := r.limit.wait(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// limiter paces reads to a rate in bytes per second, shared by the
// concurrent copies of a rule. A nil limiter does not limit.
type limiter struct {
	mu   sync.Mutex
	rate float64
	next time.Time
}

func newLimiter(bytesPerSecond int64) *limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	return &limiter{rate: float64(bytesPerSecond)}
}

// wait blocks until n more bytes fit in the rate.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	d := l.next.Sub(now)
	l.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// mountCache remembers, per rule, a destination repository that has each
// blob, so other repositories mount it instead of copying it again.
type mountCache struct {
	mu sync.Mutex
	m  map[digest.Digest]string
}

// maxMounts bounds the cache; it starts over when full.
const maxMounts = 100000

func (m *mountCache) get(d digest.Digest) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[d]
}

func (m *mountCache) put(d digest.Digest, repo string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= maxMounts {
		m.m = map[digest.Digest]string{}
	}
	m.m[d] = repo
}
