package distribution

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// batchManifests is how many manifests one transaction records.
const batchManifests = 500

// repoImport is the import of one repository.
type repoImport struct {
	im       *Importer
	r        *Repository
	have     map[digest.Digest]bool // manifests the repository has in Berth (or will have with the batch)
	linked   map[digest.Digest]bool // blobs it may read in Berth (or will)
	tagPhase bool
	batch    meta.AdoptBatch // what the next transaction records
}

// repository imports r's manifests (always: in the tags phase, those
// Distribution received since), with layers its layer links and with tags
// its tags, in one transaction (or a few, for many manifests).
func (im *Importer) repository(ctx context.Context, r *Repository, layers, tags bool) error {
	ri := &repoImport{im: im, r: r, have: map[digest.Digest]bool{}, linked: map[digest.Digest]bool{}, tagPhase: !layers}
	if im.store == nil {
		if im.dry[r.Name] == nil {
			im.dry[r.Name] = map[digest.Digest]bool{}
		}
		ri.have = im.dry[r.Name]
	} else {
		ds, err := im.store.ManifestDigests(ctx, r.Name)
		if err != nil {
			return err
		}
		for _, d := range ds {
			ri.have[d] = true
		}
	}
	// The tags phase links only what new manifests name: the layer links
	// were imported in the manifests phase.
	for _, d := range r.Layers {
		if !layers {
			break
		}
		if err := ri.link(ctx, d, func(size int64) *Problem {
			if size >= 0 {
				return nil
			}
			return &Problem{Kind: ProblemLayer, Repo: r.Name, Ref: d.String(), Reason: "the blob's bytes are missing"}
		}); err != nil {
			return err
		}
	}
	if err := ri.manifests(ctx); err != nil {
		return err
	}
	if tags {
		if err := ri.tags(ctx); err != nil {
			return err
		}
	}
	return ri.flush(ctx)
}

// flush records the batch.
func (ri *repoImport) flush(ctx context.Context) error {
	b := ri.batch
	ri.batch = meta.AdoptBatch{}
	if ri.im.store == nil || len(b.Blobs)+len(b.Manifests)+len(b.Tags) == 0 {
		return nil
	}
	return ri.im.store.Adopt(ctx, ri.r.Name, b)
}

// link lets the repository read blob d if its bytes are stored; check
// turns the size (-1: missing) into a problem to report.
func (ri *repoImport) link(ctx context.Context, d digest.Digest, check func(size int64) *Problem) error {
	if ri.linked[d] {
		return nil
	}
	size, err := ri.im.blobSize(ctx, d)
	if err != nil {
		return err
	}
	if p := check(size); p != nil {
		ri.im.problem(*p)
		return nil
	}
	if size < 0 {
		return nil
	}
	ri.batch.Blobs = append(ri.batch.Blobs, meta.Blob{Digest: d, Size: size})
	ri.linked[d] = true
	ri.im.count(func(r *ImportReport) { r.BlobLinks++ })
	return nil
}

// manifests imports the revisions Berth does not have yet: images first,
// then the indexes whose children are all there (an index may list
// another).
func (ri *repoImport) manifests(ctx context.Context) error {
	var pending []*meta.Manifest
	for _, d := range ri.r.Revisions {
		if ri.have[d] {
			if !ri.tagPhase && ri.im.store != nil {
				ri.im.count(func(r *ImportReport) { r.Existing++ })
			}
			continue
		}
		m, p, err := ri.im.manifest(ctx, ri.r.Name, d)
		if err != nil {
			return err
		}
		if p != nil {
			ri.im.problem(*p)
			continue
		}
		pending = append(pending, m)
	}
	for len(pending) > 0 {
		waiting := map[digest.Digest]bool{}
		for _, m := range pending {
			waiting[m.Digest] = true
		}
		var next []*meta.Manifest
		for _, m := range pending {
			wait, err := ri.put(ctx, m, waiting)
			if err != nil {
				return err
			}
			if wait {
				next = append(next, m)
			} else {
				delete(waiting, m.Digest)
			}
		}
		if len(next) == len(pending) {
			for _, m := range next { // children that only list each other
				ri.im.problem(Problem{Kind: ProblemManifest, Repo: ri.r.Name, Ref: m.Digest.String(), Reason: "its index children form a cycle"})
			}
			break
		}
		pending = next
	}
	return nil
}

// put adds a manifest to the batch if what it references is there; wait
// when a child is still waiting its turn.
func (ri *repoImport) put(ctx context.Context, m *meta.Manifest, waiting map[digest.Digest]bool) (wait bool, err error) {
	for _, c := range m.Children {
		if ri.have[c] {
			continue
		}
		if waiting[c] {
			return true, nil
		}
		ri.im.problem(Problem{Kind: ProblemManifest, Repo: ri.r.Name, Ref: m.Digest.String(), Target: c.String(), Reason: "the index lists a manifest the repository does not have"})
		return false, nil
	}
	for _, b := range m.Blobs {
		missing := false
		if err := ri.link(ctx, b, func(size int64) *Problem {
			if size >= 0 {
				return nil
			}
			missing = true
			return &Problem{Kind: ProblemManifest, Repo: ri.r.Name, Ref: m.Digest.String(), Target: b.String(), Reason: "a blob the manifest names is missing"}
		}); err != nil || missing {
			return false, err
		}
	}
	ri.batch.Manifests = append(ri.batch.Manifests, m)
	ri.have[m.Digest] = true
	ri.im.count(func(r *ImportReport) { r.Manifests++ })
	if len(ri.batch.Manifests) >= batchManifests {
		return false, ri.flush(ctx)
	}
	return false, nil
}

// tags points Berth's tags where Distribution's current links point.
func (ri *repoImport) tags(ctx context.Context) error {
	for _, t := range ri.r.Tags {
		d, err := ri.im.src.TagTarget(ctx, ri.r.Name, t)
		if errors.Is(err, ErrLayout) {
			ri.im.problem(Problem{Kind: ProblemTag, Repo: ri.r.Name, Ref: t, Reason: err.Error()})
			continue
		}
		if err != nil {
			return err
		}
		if !ri.have[d] {
			ri.im.problem(Problem{Kind: ProblemTag, Repo: ri.r.Name, Ref: t, Target: d.String(), Reason: "the tag points at a manifest that is missing or was not imported"})
			continue
		}
		if ri.batch.Tags == nil {
			ri.batch.Tags = map[string]digest.Digest{}
		}
		ri.batch.Tags[t] = d
		ri.im.count(func(r *ImportReport) { r.Tags++ })
	}
	return nil
}
