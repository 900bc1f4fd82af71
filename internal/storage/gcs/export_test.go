package gcs

import (
	"context"
	"strconv"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// Hooks for the external tests.

// SetMaxComponents lowers the component count past which writers rewrite,
// so tests reach it with a few chunks.
func SetMaxComponents(d *Driver, n int) { d.maxComp = n }

// Components is the component count the driver recorded on object p.
func Components(ctx context.Context, d *Driver, p string) (int, error) {
	a, err := d.obj(d.prefix + p).Attrs(ctx)
	if err != nil {
		return 0, err
	}
	if a.Metadata[metaComponents] == "" {
		return 1, nil
	}
	return strconv.Atoi(a.Metadata[metaComponents])
}

// PutPart stores an object named like a part of p, as a process that died
// between finishing a part and composing it leaves one.
func PutPart(ctx context.Context, d *Driver, p, suffix string, data []byte) error {
	w := d.obj(d.prefix + p + partMark + suffix).NewWriter(ctx)
	w.Write(data)
	return w.Close()
}

// Objects lists every object name in the driver's bucket, parts included.
func Objects(ctx context.Context, d *Driver) ([]string, error) {
	var names []string
	it := d.bkt.Objects(ctx, &storage.Query{})
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names = append(names, a.Name)
	}
}
