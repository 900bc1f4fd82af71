package s3

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Multipart uploads and copies, shared by Writer and Move.

func (d *Driver) createUpload(ctx context.Context, key string) (string, error) {
	out, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &d.bucket, Key: &key, ContentType: aws.String("application/octet-stream"),
		ServerSideEncryption: d.sse(), SSEKMSKeyId: d.kmsKey(), StorageClass: types.StorageClass(d.cfg.StorageClass),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.UploadId), nil
}

func (d *Driver) complete(ctx context.Context, key, id string, parts []part) error {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(p.num), ETag: aws.String(p.etag)}
	}
	_, err := d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &d.bucket, Key: &key, UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	return err
}

// abort ends a multipart upload; one that is already gone is not an error.
func (d *Driver) abort(ctx context.Context, key, id string) error {
	_, err := d.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: &key, UploadId: &id})
	if err != nil && !hasCode(err, "NoSuchUpload") {
		return err
	}
	return nil
}

// metaValue looks a user metadata key up; stores differ in its case.
func metaValue(m map[string]string, k string) string {
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v
		}
	}
	return ""
}

// copyMultipart copies an object larger than one CopyObject allows.
func (d *Driver) copyMultipart(ctx context.Context, from, to string, size int64) error {
	id, err := d.createUpload(ctx, to)
	if err != nil {
		return err
	}
	parts, err := d.copyParts(ctx, to, id, from, size, 1)
	if err == nil {
		err = d.complete(ctx, to, id, parts)
	}
	if err != nil {
		d.abort(context.WithoutCancel(ctx), to, id)
	}
	return err
}

// copyParts copies bytes [0, n) of object from into upload id on key as
// parts numbered from first on. Each is a multiple of the part size (so at
// least 5 MiB) of at most copyPart bytes, except a shorter final one when n
// is not such a multiple, which only a whole-object copy allows.
func (d *Driver) copyParts(ctx context.Context, key, id, from string, n int64, first int32) ([]part, error) {
	step := d.copyPart / d.partSize * d.partSize
	var parts []part
	for off, num := int64(0), first; off < n; num++ {
		size := min(step, n-off)
		out, err := d.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &d.bucket, Key: &key, UploadId: &id, PartNumber: aws.Int32(num),
			CopySource:      d.copySource(from),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+size-1)),
		})
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{num: num, etag: aws.ToString(out.CopyPartResult.ETag), size: size})
		off += size
	}
	return parts, nil
}

// copySource is the URL-encoded "bucket/key" S3 copies expect.
func (d *Driver) copySource(key string) *string {
	segs := strings.Split(d.bucket+"/"+key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return aws.String(strings.Join(segs, "/"))
}
