package gcs

import (
	"context"
	"io"
	"net/http"

	"github.com/berth-registry/berth/internal/storage"
)

// Reader implements storage.Driver: a storage.SeekReader whose ranged
// reads are pinned to the object generation of the first.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	name, err := d.name(p)
	if err != nil {
		return nil, err
	}
	var gen int64 // 0 until the first open
	open := func(pos int64) (io.ReadCloser, int64, error) {
		obj := d.obj(name)
		if gen != 0 {
			obj = obj.Generation(gen)
		}
		rr, err := obj.NewRangeReader(ctx, pos, -1)
		if err != nil && pos > 0 && !isNotFound(err) {
			// Reading at or past the end is not an error, just EOF. GCS
			// answers 416; emulators differ, so ask for the size.
			attrs, aerr := obj.Attrs(ctx)
			if aerr != nil && !hasCode(err, http.StatusRequestedRangeNotSatisfiable) {
				return nil, 0, fail("read", p, err)
			}
			if aerr != nil {
				return nil, 0, fail("read", p, aerr)
			}
			if pos >= attrs.Size {
				if gen == 0 {
					gen = attrs.Generation
				}
				return storage.EmptyBody(), attrs.Size, nil
			}
		}
		if err != nil {
			return nil, 0, fail("read", p, err)
		}
		if gen == 0 {
			gen = rr.Attrs.Generation
		}
		return rr, rr.Attrs.Size, nil
	}
	return storage.NewSeekReader("gcs reader "+p, offset, open, func(err error) error { return fail("read", p, err) })
}
