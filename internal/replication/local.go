package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/registry"
)

// local is Berth itself, read and written through its registry service
// (no HTTP to itself): the same checks, quotas, immutability rules and
// transactions as a client's push.
type local struct {
	svc *registry.Service
}

// localErr maps the registry's not-found errors to ErrNotFound.
func localErr(err error) error {
	if errors.Is(err, registry.ErrManifestUnknown) || errors.Is(err, registry.ErrNameUnknown) || errors.Is(err, registry.ErrBlobUnknown) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

func (l local) Repositories(ctx context.Context) ([]string, error) {
	var out []string
	last := ""
	for {
		p, err := l.svc.Catalog(ctx, last, registry.MaxPageSize, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Items {
			ns, _, _ := strings.Cut(r, "/")
			if !l.svc.ProxiesNamespace(ns) { // the pull-through cache is not a source
				out = append(out, r)
			}
		}
		if !p.More || len(p.Items) == 0 {
			return out, nil
		}
		last = p.Items[len(p.Items)-1]
	}
}

func (l local) Tags(ctx context.Context, repo string) ([]string, error) {
	var out []string
	last := ""
	for {
		p, err := l.svc.Tags(ctx, repo, last, registry.MaxPageSize)
		if errors.Is(err, registry.ErrNameUnknown) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if !p.More || len(p.Items) == 0 {
			return out, nil
		}
		last = p.Items[len(p.Items)-1]
	}
}

func (l local) Manifest(ctx context.Context, repo, ref string) (Manifest, error) {
	m, err := l.svc.GetManifest(ctx, repo, ref)
	if err != nil {
		return Manifest{}, localErr(err)
	}
	return Manifest{MediaType: m.MediaType, Digest: m.Digest, Content: m.Content}, nil
}

func (l local) ManifestDigest(ctx context.Context, repo, ref string) (digest.Digest, error) {
	m, err := l.Manifest(ctx, repo, ref)
	return m.Digest, err
}

func (l local) PutManifest(ctx context.Context, repo, ref string, m Manifest) (bool, error) {
	_, err := l.svc.PutManifest(ctx, repo, ref, nil, m.MediaType, m.Content)
	return true, localErr(err)
}

func (l local) DeleteManifest(ctx context.Context, repo, ref string) error {
	return localErr(l.svc.DeleteManifest(ctx, repo, ref))
}

func (l local) HasBlob(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	_, err := l.svc.StatBlob(ctx, repo, d)
	if errors.Is(err, registry.ErrBlobUnknown) {
		return false, nil
	}
	return err == nil, err
}

func (l local) OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	c, err := l.svc.OpenBlob(ctx, repo, d)
	if err != nil {
		return nil, 0, localErr(err)
	}
	if c.ReadCloser != nil {
		return c.ReadCloser, c.Size, nil
	}
	// Storage that redirects reads (S3): fetch the presigned URL.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.RedirectURL, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("blob %s: storage answered %s", d, resp.Status)
	}
	return resp.Body, c.Size, nil
}

func (l local) PutBlob(ctx context.Context, repo string, d digest.Digest, size int64, r io.Reader) error {
	_, err := l.svc.PushBlob(ctx, repo, d, size, r)
	return err
}

func (l local) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error) {
	_, err := l.svc.MountBlob(ctx, repo, from, d)
	if errors.Is(err, registry.ErrBlobUnknown) {
		return false, nil
	}
	return err == nil, err
}

func (l local) Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	idx, err := l.svc.Referrers(ctx, repo, d, "")
	if err != nil {
		return nil, localErr(err)
	}
	return idx.Manifests, nil
}
