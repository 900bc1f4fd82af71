package s3

import (
	"bytes"
	"context"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/internal/storage"
)

// Reader implements storage.Driver: a storage.SeekReader whose ranged
// GETs are pinned to the object version of the first by its ETag.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, err
	}
	var etag string
	open := func(pos int64) (io.ReadCloser, int64, error) {
		in := &s3.GetObjectInput{Bucket: &d.bucket, Key: &key}
		if pos > 0 {
			in.Range = aws.String("bytes=" + strconv.FormatInt(pos, 10) + "-")
		}
		if etag != "" {
			in.IfMatch = &etag
		}
		out, err := d.client.GetObject(ctx, in)
		if hasCode(err, "InvalidRange") {
			// Reading at or past the end is not an error, just EOF.
			head, herr := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
			if herr != nil {
				return nil, 0, fail("read", p, herr)
			}
			if etag == "" {
				etag = aws.ToString(head.ETag)
			}
			return storage.EmptyBody(), aws.ToInt64(head.ContentLength), nil
		}
		if err != nil {
			return nil, 0, fail("read", p, err)
		}
		if etag == "" {
			etag = aws.ToString(out.ETag)
		}
		return out.Body, storage.RangeTotal(aws.ToString(out.ContentRange), pos, aws.ToInt64(out.ContentLength)), nil
	}
	return storage.NewSeekReader("s3 reader "+p, offset, open, func(err error) error { return fail("read", p, err) })
}

// bytesReader is a seekable body, so the SDK can sign and retry it.
func bytesReader(b []byte) io.ReadSeeker { return bytes.NewReader(b) }
