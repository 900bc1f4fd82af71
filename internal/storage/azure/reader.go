package azure

import (
	"context"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/berth-registry/berth/internal/storage"
)

// Reader implements storage.Driver: a storage.SeekReader whose ranged
// GETs are pinned to the blob version of the first by its ETag.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	name, err := d.name(p)
	if err != nil {
		return nil, err
	}
	var etag azcore.ETag
	open := func(pos int64) (io.ReadCloser, int64, error) {
		opts := &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: pos}}
		if etag != "" {
			opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &etag}}
		}
		out, err := d.blob(name).DownloadStream(ctx, opts)
		if bloberror.HasCode(err, bloberror.InvalidRange) {
			// Reading at or past the end is not an error, just EOF.
			props, perr := d.blob(name).GetProperties(ctx, nil)
			if perr != nil {
				return nil, 0, fail("read", p, perr)
			}
			if etag == "" {
				etag = deref(props.ETag)
			}
			return storage.EmptyBody(), deref(props.ContentLength), nil
		}
		if err != nil {
			return nil, 0, fail("read", p, err)
		}
		if etag == "" {
			etag = deref(out.ETag)
		}
		return out.Body, storage.RangeTotal(deref(out.ContentRange), pos, deref(out.ContentLength)), nil
	}
	return storage.NewSeekReader("azure reader "+p, offset, open, func(err error) error { return fail("read", p, err) })
}
