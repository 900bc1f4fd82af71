package s3

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berth-registry/berth/internal/storage"
)

// Operations over key listings: Delete and Walk.

// Delete implements storage.Driver: the object at path, every object below
// it, and any writer session among them (its multipart upload is aborted).
func (d *Driver) Delete(ctx context.Context, p string) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	var batch []types.ObjectIdentifier
	found := false
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := d.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &d.bucket, Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
		})
		if err == nil && len(out.Errors) > 0 {
			e := out.Errors[0]
			err = fmt.Errorf("%s: %s %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		batch = batch[:0]
		return err
	}
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: &key})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fail("delete", p, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if k != key && k != key+pendingSuffix && !strings.HasPrefix(k, key+"/") {
				continue // a sibling that merely shares the prefix, like "ab" for "a"
			}
			found = true
			if strings.HasSuffix(k, pendingSuffix) {
				if err := d.abortSession(ctx, k); err != nil {
					return fail("delete", p, err)
				}
			}
			batch = append(batch, types.ObjectIdentifier{Key: aws.String(k)})
			if len(batch) == 1000 {
				if err := flush(); err != nil {
					return fail("delete", p, err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fail("delete", p, err)
	}
	if !found {
		return fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return nil
}

// abortSession aborts the multipart upload a side object records.
func (d *Driver) abortSession(ctx context.Context, sideKey string) error {
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &sideKey})
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if id := metaValue(out.Metadata, metaUploadID); id != "" {
		return d.abort(ctx, strings.TrimSuffix(sideKey, pendingSuffix), id)
	}
	return nil
}

// Walk implements storage.Driver, listing the keys below prefix in S3's
// (byte) order; a file being written is visited where its side object sorts.
// Walking a file visits just that file, as filepath.WalkDir does.
func (d *Driver) Walk(ctx context.Context, prefix string, fn func(storage.FileInfo) error) error {
	key, err := d.key(prefix)
	if err != nil {
		return err
	}
	found := false
	// The keys visited that prefix the current one: a side object sorts
	// after its file's own key and the keys extending it, so this tells
	// whether its file was already visited as a committed object.
	var open []string
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(key + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fail("walk", prefix, err)
		}
		for _, o := range page.Contents {
			found = true
			k := aws.ToString(o.Key)
			for len(open) > 0 && !strings.HasPrefix(k, open[len(open)-1]) {
				open = open[:len(open)-1]
			}
			fi := storage.FileInfo{Path: d.rel(k), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}
			if file, ok := strings.CutSuffix(k, pendingSuffix); ok {
				if slices.Contains(open, file) {
					continue
				}
				if fi, err = d.statSession(ctx, file); isNotFound(err) {
					continue // committed or cancelled meanwhile
				} else if err != nil {
					return fail("walk", prefix, err)
				}
				k = file
			}
			open = append(open, k)
			if err := fn(fi); err != nil {
				return err
			}
		}
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

// statSession describes the file a writer session at key holds.
func (d *Driver) statSession(ctx context.Context, key string) (storage.FileInfo, error) {
	side := key + pendingSuffix
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &side})
	if err != nil {
		return storage.FileInfo{}, err
	}
	base, _ := strconv.ParseInt(metaValue(out.Metadata, metaOffset), 10, 64)
	return storage.FileInfo{
		Path: d.rel(key), Size: base + aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// List implements storage.Lister with a delimited listing: the objects and
// common prefixes directly below prefix.
func (d *Driver) List(ctx context.Context, prefix string) ([]string, error) {
	key, err := d.key(prefix)
	if err != nil {
		return nil, err
	}
	key += "/"
	seen := map[string]bool{}
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: &key, Delimiter: aws.String("/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fail("list", prefix, err)
		}
		for _, p := range page.CommonPrefixes {
			seen[strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), key), "/")] = true
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), key)
			seen[strings.TrimSuffix(name, pendingSuffix)] = true
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%w: %s", storage.ErrNotFound, prefix)
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
