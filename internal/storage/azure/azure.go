// Package azure is the storage.Driver for Azure Blob Storage (and Azurite,
// the emulator, and the sovereign clouds through a custom endpoint).
//
// Every driver path p is the block blob <prefix>/p in one container. A
// FileWriter writes the blob as a list of blocks; unlike an S3 multipart
// upload, a block blob's committed block list can be replaced at any time,
// and a new list may reuse committed blocks. That makes the session simple:
// the blob itself, committed up to the writer's last Close, is the session
// state.
//
//	| block 1 | block 2 | ... | block n | buffer (at most one block) |
//	0                                   ^ staged bytes               ^ Size()
//
// A writer holds at most one block in memory: Write fills a buffer and
// stages it (Put Block, uncommitted) when it reaches BlockSize. Close stages
// the buffer as a last, shorter block and commits the block list (Put Block
// List), so the blob holds exactly Size() bytes; Commit does the same, and
// Azure acknowledges a committed list only once stored durably. Block IDs
// encode the block's offset and a random number per writer, so IDs never
// collide across writers and all have the same length, as Azure requires.
//
// A later Writer at offset N, in any process, reads the committed block list
// (Get Block List), keeps the blocks that end at or before N, and reads the
// bytes from there to N back from the blob into its buffer (staging full
// blocks again if they exceed one). If the last kept block is shorter than a
// block, left by a Close, it is read back too, so that a file written with
// many Close and resume cycles still has full blocks and stays below Azure's
// 50,000 blocks per blob. A blob not written by this driver (a PutContent,
// another tool) is read back the same way. Nothing is committed until the
// new writer's Close or Commit, so a writer that dies leaves the blob as it
// was; its staged blocks are uncommitted, and Azure discards them after a
// week. Cancel deletes the blob (and with it any uncommitted blocks).
//
// Differences from the filesystem driver: a file being written is visible
// (Stat, Walk, Reader) with what its writer's last Close committed, like a
// file on disk; Walk lists in byte order of the whole path, which differs
// from a directory walk only for names with bytes below '/' (such as '-'
// and '.'); Move copies server side (Copy Blob, waited for) then deletes the
// source, so both exist for a moment.
package azure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/berth-registry/berth/internal/storage"
)

// maxBlocks is Azure's limit of committed blocks per blob.
const maxBlocks = 50000

// Driver stores files as block blobs in one container below a prefix.
type Driver struct {
	client     *container.Client
	key        *container.SharedKeyCredential // nil unless an account key is configured
	service    *service.Client                // token credentials only: user delegation keys
	serviceURL string
	prefix     string // "" or ends in "/"
	cfg        Config
	blockSize  int64

	mu        sync.Mutex
	delegated *service.UserDelegationCredential
	delegExp  time.Time
}

var (
	_ storage.Driver     = (*Driver)(nil)
	_ storage.Redirector = (*Driver)(nil)
)

// Name implements storage.Driver.
func (d *Driver) Name() string { return "azure" }

// name maps a driver path to a blob name, refusing the same paths as the
// filesystem driver.
func (d *Driver) name(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") {
		return "", fmt.Errorf("%w: %q", storage.ErrInvalidPath, p)
	}
	return d.prefix + p, nil
}

// rel maps a blob name back to a driver path.
func (d *Driver) rel(name string) string { return strings.TrimPrefix(name, d.prefix) }

func (d *Driver) blob(name string) *blockblob.Client { return d.client.NewBlockBlobClient(name) }

func isNotFound(err error) bool { return bloberror.HasCode(err, bloberror.BlobNotFound) }

// fail wraps an SDK error, turning a missing blob into storage.ErrNotFound.
func fail(op, p string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return fmt.Errorf("azure %s %s: %w", op, p, err)
}

// Stat implements storage.Driver. A name with blobs below it is a directory.
func (d *Driver) Stat(ctx context.Context, p string) (storage.FileInfo, error) {
	name, err := d.name(p)
	if err != nil {
		return storage.FileInfo{}, err
	}
	props, err := d.blob(name).GetProperties(ctx, nil)
	if err == nil {
		return storage.FileInfo{Path: p, Size: deref(props.ContentLength), ModTime: deref(props.LastModified)}, nil
	}
	if !isNotFound(err) {
		return storage.FileInfo{}, fail("stat", p, err)
	}
	one, prefix := int32(1), name+"/"
	page, err := d.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix, MaxResults: &one}).NextPage(ctx)
	if err != nil {
		return storage.FileInfo{}, fail("stat", p, err)
	}
	if page.Segment == nil || len(page.Segment.BlobItems) == 0 {
		return storage.FileInfo{}, fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return storage.FileInfo{Path: p, IsDir: true}, nil
}

// GetContent implements storage.Driver.
func (d *Driver) GetContent(ctx context.Context, p string) ([]byte, error) {
	name, err := d.name(p)
	if err != nil {
		return nil, err
	}
	out, err := d.blob(name).DownloadStream(ctx, nil)
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

// PutContent implements storage.Driver with one Put Blob, which Azure makes
// visible atomically and only once stored durably.
func (d *Driver) PutContent(ctx context.Context, p string, data []byte) error {
	name, err := d.name(p)
	if err != nil {
		return err
	}
	_, err = d.blob(name).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: ptr("application/octet-stream")},
	})
	if err != nil {
		return fail("put", p, err)
	}
	return nil
}

// Move implements storage.Driver: a server-side Copy Blob, waited for, then
// a delete of src. The copy replaces dst atomically; between the two steps
// both exist.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	from, err := d.name(src)
	if err != nil {
		return err
	}
	to, err := d.name(dst)
	if err != nil {
		return err
	}
	source := d.blob(from)
	if _, err := source.GetProperties(ctx, nil); err != nil {
		return fail("move", src, err)
	}
	if from == to {
		return nil
	}
	target := d.blob(to)
	out, err := target.StartCopyFromURL(ctx, source.URL(), nil)
	if err != nil {
		return fail("move", src+" to "+dst, err)
	}
	status, desc := deref(out.CopyStatus), ""
	for wait := 50 * time.Millisecond; status == blob.CopyStatusTypePending; wait = min(2*wait, 2*time.Second) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("azure move %s to %s: %w", src, dst, ctx.Err())
		case <-time.After(wait):
		}
		props, err := target.GetProperties(ctx, nil)
		if err != nil {
			return fail("move", src+" to "+dst, err)
		}
		status, desc = deref(props.CopyStatus), deref(props.CopyStatusDescription)
	}
	if status != blob.CopyStatusTypeSuccess {
		return fmt.Errorf("azure move %s to %s: copy %s: %s", src, dst, status, desc)
	}
	if _, err := source.Delete(ctx, nil); err != nil && !isNotFound(err) {
		return fail("move: delete", src, err)
	}
	return nil
}

// RedirectURL implements storage.Redirector with a read-only SAS for the one
// blob: signed with the account key, or with a user delegation key when the
// driver uses Azure AD credentials (Azure limits those to 7 days). A driver
// configured with a SAS token cannot sign and returns an error.
func (d *Driver) RedirectURL(ctx context.Context, p string, expires time.Duration) (string, error) {
	name, err := d.name(p)
	if err != nil {
		return "", err
	}
	if expires <= 0 || expires > 7*24*time.Hour {
		return "", fmt.Errorf("azure redirect %s: expiry %v not in (0, 7 days]", p, expires)
	}
	base := d.serviceURL
	if d.cfg.PublicEndpoint != "" {
		base = strings.TrimSuffix(d.cfg.PublicEndpoint, "/") + "/"
	}
	protocol := sas.ProtocolHTTPS
	if strings.HasPrefix(d.serviceURL, "http:") || strings.HasPrefix(base, "http:") {
		protocol = sas.ProtocolHTTPSandHTTP // Azurite, or a plain-HTTP endpoint
	}
	now := time.Now().UTC()
	values := sas.BlobSignatureValues{
		Protocol:  protocol,
		StartTime: now.Add(-5 * time.Minute), ExpiryTime: now.Add(expires),
		Permissions:   (&sas.BlobPermissions{Read: true}).String(),
		ContainerName: d.cfg.Container, BlobName: name,
	}
	var q sas.QueryParameters
	switch {
	case d.key != nil:
		q, err = values.SignWithSharedKey(d.key)
	case d.service != nil:
		var udc *service.UserDelegationCredential
		if udc, err = d.delegation(ctx, now.Add(expires)); err == nil {
			q, err = values.SignWithUserDelegation(udc)
		}
	default:
		return "", fmt.Errorf("azure redirect %s: a SAS-token driver cannot sign URLs (configure an account key or Azure AD credentials)", p)
	}
	if err != nil {
		return "", fail("sign", p, err)
	}
	return base + strings.TrimPrefix(d.blob(name).URL(), d.serviceURL) + "?" + q.Encode(), nil
}

// delegation returns a user delegation key valid until at least until,
// fetching a new one (valid for 7 days) when the cached one ends earlier.
func (d *Driver) delegation(ctx context.Context, until time.Time) (*service.UserDelegationCredential, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.delegated != nil && d.delegExp.After(until) {
		return d.delegated, nil
	}
	now := time.Now().UTC()
	exp := now.Add(7*24*time.Hour - time.Minute)
	udc, err := d.service.GetUserDelegationCredential(ctx, service.KeyInfo{
		Start: ptr(now.Add(-5 * time.Minute).Format(sas.TimeFormat)), Expiry: ptr(exp.Format(sas.TimeFormat)),
	}, nil)
	if err != nil {
		return nil, err
	}
	d.delegated, d.delegExp = udc, exp
	return udc, nil
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
