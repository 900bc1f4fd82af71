// Package s3 is the storage.Driver for Amazon S3 and S3-compatible object
// stores (MinIO, Ceph RGW, Alibaba OSS, Tencent COS, Huawei OBS, ...).
//
// Every driver path p is the object <prefix>/p. A file that a FileWriter is
// writing has no object of its own until Commit; it lives as a session made
// of an S3 multipart upload on the file's key and a small side object:
//
//	<prefix>/blobs/sha256/ab/abcd...     a committed file: one object
//	<prefix>/uploads/<id>                (absent until Commit)
//	<prefix>/uploads/<id>.pending        session state: body = the tail,
//	                                     metadata berth-upload-id, berth-parts, berth-offset
//	multipart upload on uploads/<id>     parts 1..berth-parts hold the first berth-offset bytes
//
//	| part 1 | part 2 | ... | part n | tail (side object body) |
//	0                                ^ berth-offset            ^ Size()
//
// A writer holds at most one part in memory: Write fills a buffer and
// uploads it as the next part when it reaches PartSize. Close also turns a
// tail of 5 MiB or more into a (shorter) part, so every part but the last is
// at least 5 MiB as S3 requires, and a side object holds less than 5 MiB. The
// multipart upload is created with the first part; a writer opened at offset
// 0 records it in the side object before uploading anything, so that Delete
// can abort it even if the process dies.
//
// The side object is the session's commit point. Close uploads the tail as
// a new side object (one atomic PUT: tiny chunks thus rewrite up to 5 MiB
// each). A later Writer, in any process, reads it, lists the upload's parts
// for their ETags, and continues; parts numbered above berth-parts (uploaded
// after the last Close by a process that died) are ignored and overwritten.
// Commit uploads the tail as the last part and completes the upload (one
// PutObject when there are no parts), so the object appears at the file's
// key, then deletes the side object. Cancel aborts the upload and deletes the
// side object and the key.
//
// A Writer at an offset inside the tail just truncates it. Inside the parts,
// whose bytes S3 cannot read back, it completes the upload up to the part
// holding the offset, then continues from that object like from any
// committed file: full parts are copied server side (UploadPartCopy) into a
// new multipart upload, the rest is read into the buffer. A side object whose
// upload no longer exists (completed by such a restart or by a Commit that
// died before deleting it) is stale, and the object at the key is the truth.
//
// Differences from the filesystem driver: Stat, Walk and Delete see an
// uncommitted file (with the size and time of its writer's last Close), but
// GetContent, Reader and Move need it committed; paths whose last element
// ends in ".pending" are reserved (ErrInvalidPath); Walk lists in byte order
// of the whole path, which differs from a directory walk only for names with
// bytes below '/' (such as '-' and '.'); Move copies (S3 has no rename).
// Multipart uploads orphaned by a crash (a resumed writer that dies before
// Close) are left to a bucket lifecycle rule (AbortIncompleteMultipartUpload),
// which a deployment should set.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/berth-registry/berth/internal/storage"
)

// S3 limits.
const (
	minPartSize     = 5 << 20
	maxPartSize     = 5 << 30
	maxParts        = 10000
	defaultPartSize = 16 << 20
	pendingSuffix   = ".pending"
)

// Driver stores files as objects in one bucket below a prefix.
type Driver struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string // "" or ends in "/"
	cfg     Config

	partSize int64
	// Objects larger than maxCopy are moved with a multipart copy in parts
	// of copyPart bytes (S3 copies at most 5 GiB per request). Tests lower both.
	maxCopy  int64
	copyPart int64
}

var (
	_ storage.Driver     = (*Driver)(nil)
	_ storage.Redirector = (*Driver)(nil)
)

// Name implements storage.Driver.
func (d *Driver) Name() string { return "s3" }

// key maps a driver path to an object key, refusing the same paths as the
// filesystem driver plus the reserved side-object names.
func (d *Driver) key(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") ||
		strings.HasSuffix(p, pendingSuffix) {
		return "", fmt.Errorf("%w: %q", storage.ErrInvalidPath, p)
	}
	return d.prefix + p, nil
}

// rel maps an object key back to a driver path.
func (d *Driver) rel(key string) string { return strings.TrimPrefix(key, d.prefix) }

// isNotFound reports whether err says the object (not the bucket) is missing.
func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return false
}

func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// fail wraps an SDK error, turning a missing object into storage.ErrNotFound.
func fail(op, p string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return fmt.Errorf("s3 %s %s: %w", op, p, err)
}

// Stat implements storage.Driver. A file being written is there with the
// size and time of its writer's last Close; a key with objects below it is a
// directory.
func (d *Driver) Stat(ctx context.Context, p string) (storage.FileInfo, error) {
	key, err := d.key(p)
	if err != nil {
		return storage.FileInfo{}, err
	}
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
	if err == nil {
		return storage.FileInfo{Path: p, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
	}
	if !isNotFound(err) {
		return storage.FileInfo{}, fail("stat", p, err)
	}
	if fi, err := d.statSession(ctx, key); err == nil {
		return fi, nil
	} else if !isNotFound(err) {
		return storage.FileInfo{}, fail("stat", p, err)
	}
	list, err := d.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: &d.bucket, Prefix: aws.String(key + "/"), MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return storage.FileInfo{}, fail("stat", p, err)
	}
	if len(list.Contents) == 0 {
		return storage.FileInfo{}, fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return storage.FileInfo{Path: p, IsDir: true}, nil
}

// GetContent implements storage.Driver.
func (d *Driver) GetContent(ctx context.Context, p string) ([]byte, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, err
	}
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		return nil, fail("get", p, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fail("get", p, err)
	}
	return b, nil
}

// PutContent implements storage.Driver with one PutObject, which S3 makes
// visible atomically and only once stored durably.
func (d *Driver) PutContent(ctx context.Context, p string, data []byte) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	if err := d.put(ctx, key, data, nil); err != nil {
		return fail("put", p, err)
	}
	return nil
}

// put stores data at key; meta marks a side object (no storage class).
func (d *Driver) put(ctx context.Context, key string, data []byte, meta map[string]string) error {
	in := &s3.PutObjectInput{
		Bucket: &d.bucket, Key: &key, Body: bytesReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/octet-stream"),
		ServerSideEncryption: d.sse(), SSEKMSKeyId: d.kmsKey(), Metadata: meta,
	}
	if meta == nil {
		in.StorageClass = types.StorageClass(d.cfg.StorageClass)
	}
	_, err := d.client.PutObject(ctx, in)
	return err
}

// Move implements storage.Driver: a server-side copy, then a delete of src.
// The copy replaces dst atomically; between the two steps both exist.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	from, err := d.key(src)
	if err != nil {
		return err
	}
	to, err := d.key(dst)
	if err != nil {
		return err
	}
	head, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &from})
	if err != nil {
		return fail("move", src, err)
	}
	if from == to {
		return nil // S3 refuses to copy an object onto itself unchanged
	}
	if size := aws.ToInt64(head.ContentLength); size > d.maxCopy {
		err = d.copyMultipart(ctx, from, to, size)
	} else {
		_, err = d.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &d.bucket, Key: &to, CopySource: d.copySource(from),
			ServerSideEncryption: d.sse(), SSEKMSKeyId: d.kmsKey(),
			StorageClass: types.StorageClass(d.cfg.StorageClass),
		})
	}
	if err != nil {
		return fail("move", src+" to "+dst, err)
	}
	if _, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.bucket, Key: &from}); err != nil {
		return fail("move: delete", src, err)
	}
	return nil
}

// RedirectURL implements storage.Redirector with a presigned GET. S3 limits
// the expiry to 7 days, and temporary credentials end it earlier.
func (d *Driver) RedirectURL(ctx context.Context, p string, expires time.Duration) (string, error) {
	key, err := d.key(p)
	if err != nil {
		return "", err
	}
	if expires <= 0 || expires > 7*24*time.Hour {
		return "", fmt.Errorf("s3 redirect %s: expiry %v not in (0, 7 days]", p, expires)
	}
	req, err := d.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: &key},
		s3.WithPresignExpires(expires))
	if err != nil {
		return "", fail("presign", p, err)
	}
	return req.URL, nil
}

func (d *Driver) sse() types.ServerSideEncryption {
	return types.ServerSideEncryption(d.cfg.ServerSideEncryption)
}

func (d *Driver) kmsKey() *string {
	if d.cfg.KMSKeyID == "" {
		return nil
	}
	return aws.String(d.cfg.KMSKeyID)
}
