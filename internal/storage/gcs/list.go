package gcs

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	berth "github.com/berth-registry/berth/internal/storage"
)

// Operations over object listings: Delete, Walk and List.

// isPart reports whether an object name is a writer's part.
func isPart(name string) bool { return strings.Contains(path.Base(name), partMark) }

// Delete implements storage.Driver: the object at path, every object below
// it, and parts left beside it.
func (d *Driver) Delete(ctx context.Context, p string) error {
	name, err := d.name(p)
	if err != nil {
		return err
	}
	found, err := d.remove(ctx, name)
	if err != nil {
		return fail("delete", p, err)
	}
	if !found {
		return fmt.Errorf("%w: %s", berth.ErrNotFound, p)
	}
	return nil
}

// remove deletes name, the objects below name/ and name's parts with one
// listing of the prefix name; it reports whether a file or directory (not
// just parts) was there.
func (d *Driver) remove(ctx context.Context, name string) (bool, error) {
	found := false
	err := d.list(ctx, name, 0, true, func(item string, _ berth.FileInfo) error {
		rest := item[len(name):]
		part := strings.HasPrefix(rest, partMark)
		if rest != "" && !strings.HasPrefix(rest, "/") && !part {
			return nil // a sibling: name "t", item "tt"
		}
		if err := d.obj(item).Delete(ctx); err != nil && !isNotFound(err) {
			return err
		}
		found = found || !part
		return nil
	})
	return found, err
}

// Walk implements storage.Driver, listing the objects below prefix in GCS's
// (byte) order. Walking a file visits just that file, as filepath.WalkDir does.
func (d *Driver) Walk(ctx context.Context, prefix string, fn func(berth.FileInfo) error) error {
	name, err := d.name(prefix)
	if err != nil {
		return err
	}
	found := false
	var fnErr error
	err = d.list(ctx, name+"/", 0, false, func(_ string, fi berth.FileInfo) error {
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

// List implements storage.Lister with a listing delimited by "/": the
// objects and the common prefixes directly below prefix, sorted.
func (d *Driver) List(ctx context.Context, prefix string) ([]string, error) {
	name, err := d.name(prefix)
	if err != nil {
		return nil, err
	}
	var names []string
	it := d.bkt.Objects(ctx, &storage.Query{Prefix: name + "/", Delimiter: "/"})
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, fail("list", prefix, err)
		}
		n := strings.TrimSuffix(a.Prefix, "/")
		if n == "" {
			if isPart(a.Name) {
				continue
			}
			n = a.Name
		}
		names = append(names, strings.TrimPrefix(n, name+"/"))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: %s", berth.ErrNotFound, prefix)
	}
	// GCS returns objects and prefixes each in order; merge them.
	slices.Sort(names)
	return names, nil
}

// list calls fn for every object whose name starts with prefix, in name
// order, at most limit (0: all); parts are skipped unless withParts.
func (d *Driver) list(ctx context.Context, prefix string, limit int, parts bool, fn func(name string, fi berth.FileInfo) error) error {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
		return err
	}
	it := d.bkt.Objects(ctx, q)
	if limit > 0 {
		it.PageInfo().MaxSize = limit
	}
	for n := 0; limit == 0 || n < limit; {
		a, err := it.Next()
		if err == iterator.Done {
			return nil
		}
		if err != nil {
			return err
		}
		if a.Name == "" || (!parts && isPart(a.Name)) {
			continue
		}
		n++
		if err := fn(a.Name, berth.FileInfo{Path: d.rel(a.Name), Size: a.Size, ModTime: a.Updated}); err != nil {
			return err
		}
	}
	return nil
}
