package azure

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/berth-registry/berth/internal/storage"
)

// Operations over blob listings: Delete and Walk.

// Delete implements storage.Driver: the blob at path and every blob below it.
func (d *Driver) Delete(ctx context.Context, p string) error {
	name, err := d.name(p)
	if err != nil {
		return err
	}
	found := false
	if _, err := d.blob(name).Delete(ctx, nil); err == nil {
		found = true
	} else if !isNotFound(err) {
		return fail("delete", p, err)
	}
	err = d.list(ctx, name+"/", func(item string, _ storage.FileInfo) error {
		if _, err := d.blob(item).Delete(ctx, nil); err != nil && !isNotFound(err) {
			return err
		}
		found = true
		return nil
	})
	if err != nil {
		return fail("delete", p, err)
	}
	if !found {
		return fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return nil
}

// Walk implements storage.Driver, listing the blobs below prefix in Azure's
// (byte) order. Walking a file visits just that file, as filepath.WalkDir does.
func (d *Driver) Walk(ctx context.Context, prefix string, fn func(storage.FileInfo) error) error {
	name, err := d.name(prefix)
	if err != nil {
		return err
	}
	found := false
	var fnErr error
	err = d.list(ctx, name+"/", func(_ string, fi storage.FileInfo) error {
		found = true
		if fnErr = fn(fi); fnErr != nil {
			return fnErr
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fail("walk", prefix, err)
	}
	if found {
		return nil
	}
	fi, err := d.Stat(ctx, prefix)
	if err != nil {
		return err
	}
	return fn(fi)
}

// list calls fn for every committed blob whose name starts with prefix.
func (d *Driver) list(ctx context.Context, prefix string, fn func(name string, fi storage.FileInfo) error) error {
	pager := d.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		if page.Segment == nil {
			continue
		}
		for _, item := range page.Segment.BlobItems {
			n := deref(item.Name)
			fi := storage.FileInfo{Path: d.rel(n)}
			if pr := item.Properties; pr != nil {
				fi.Size, fi.ModTime = deref(pr.ContentLength), deref(pr.LastModified)
			}
			if err := fn(n, fi); err != nil {
				return err
			}
		}
	}
	return nil
}
