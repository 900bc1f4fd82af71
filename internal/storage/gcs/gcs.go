// Package gcs is the storage.Driver for Google Cloud Storage (and emulators
// that speak its JSON API, such as fake-gcs-server), on the official SDK's
// HTTP/JSON client.
//
// Every driver path p is the object <prefix>/p in one bucket. GCS objects
// are immutable: a write replaces a whole object, atomically, when its
// upload is finalized. A FileWriter therefore never changes an object in
// place; it streams through the SDK's resumable upload (which holds one
// chunk, ChunkSize bytes, in memory) and finishes in one of two ways:
//
//	append (the writer starts at the end of a non-empty file):
//	  <prefix>/p                          the file as its last Close left it (generation g)
//	  <prefix>/p.berth-part-<random>      this writer's bytes, finalized by Close
//	  Close: compose [p@g, part] -> p (if p is still at generation g), delete part
//
//	rewrite (a new or empty file, or an offset inside the file):
//	  the upload goes to <prefix>/p itself; bytes [0, offset) of the
//	  current generation are read back into it first. Close finalizes it.
//
// So, as with the Azure driver, the object itself is the whole session
// state: a later Writer, in any process, looks at the object's size and
// generation and carries on. Nothing becomes visible before Close or Commit:
// a writer that dies leaves the file as the last Close did, and its
// unfinished resumable upload expires in GCS after a week. A part object
// left by a process that died between finalizing it and composing it is
// deleted with its file (Delete lists p's parts), and never listed: paths
// whose last element contains ".berth-part-" are reserved (ErrInvalidPath).
//
// Composing is a metadata operation in GCS, but a composite object counts
// its components. The driver records the count in the object's metadata
// (berth-components) and, past maxComponents (1000, below GCS's historic
// limit of 1024), rewrites instead of appending: the file becomes one
// component again at the cost of reading it back once.
//
// Differences from the filesystem driver: a file being written is visible
// (Stat, Walk, Reader) with what its writer's last Close finalized; Walk
// lists in byte order of the whole path, which differs from a directory
// walk only for names with bytes below '/' (such as '-' and '.'); Move is a
// server-side copy (rewrite) followed by a delete of the source, so both
// exist for a moment.
package gcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	berth "github.com/berth-registry/berth/internal/storage"
)

// partMark is in the name of every part object; driver paths that contain
// it in their last element are refused.
const partMark = ".berth-part-"

// metaComponents is the object metadata key holding the component count.
const metaComponents = "berth-components"

// maxComponents is the component count past which a writer rewrites the
// object instead of composing onto it.
const maxComponents = 1000

// contentType is the type of every object the driver writes.
const contentType = "application/octet-stream"

// Driver stores files as objects in one bucket below a prefix.
type Driver struct {
	client    *storage.Client
	bkt       *storage.BucketHandle
	cfg       Config
	prefix    string // "" or ends in "/"
	chunkSize int
	signer    *signer // nil: cannot sign redirect URLs
	maxComp   int
}

var (
	_ berth.Driver     = (*Driver)(nil)
	_ berth.Redirector = (*Driver)(nil)
	_ berth.Lister     = (*Driver)(nil)
)

// Name implements storage.Driver.
func (d *Driver) Name() string { return "gcs" }

// Close releases the SDK client's connections.
func (d *Driver) Close() error { return d.client.Close() }

// name maps a driver path to an object name, refusing the same paths as the
// filesystem driver, and the reserved part names.
func (d *Driver) name(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") ||
		strings.Contains(path.Base(p), partMark) {
		return "", fmt.Errorf("%w: %q", berth.ErrInvalidPath, p)
	}
	return d.prefix + p, nil
}

// rel maps an object name back to a driver path.
func (d *Driver) rel(name string) string { return strings.TrimPrefix(name, d.prefix) }

func (d *Driver) obj(name string) *storage.ObjectHandle { return d.bkt.Object(name) }

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.Is(err, storage.ErrObjectNotExist) || (errors.As(err, &ge) && ge.Code == http.StatusNotFound)
}

func hasCode(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

// fail wraps an SDK error, turning a missing object into storage.ErrNotFound.
func fail(op, p string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", berth.ErrNotFound, p)
	}
	return fmt.Errorf("gcs %s %s: %w", op, p, err)
}

// Stat implements storage.Driver. A name with objects below it is a directory.
func (d *Driver) Stat(ctx context.Context, p string) (berth.FileInfo, error) {
	name, err := d.name(p)
	if err != nil {
		return berth.FileInfo{}, err
	}
	attrs, err := d.obj(name).Attrs(ctx)
	if err == nil {
		return berth.FileInfo{Path: p, Size: attrs.Size, ModTime: attrs.Updated}, nil
	}
	if !isNotFound(err) {
		return berth.FileInfo{}, fail("stat", p, err)
	}
	found := false
	err = d.list(ctx, name+"/", 1, false, func(string, berth.FileInfo) error {
		found = true
		return nil
	})
	if err != nil {
		return berth.FileInfo{}, fail("stat", p, err)
	}
	if !found {
		return berth.FileInfo{}, fmt.Errorf("%w: %s", berth.ErrNotFound, p)
	}
	return berth.FileInfo{Path: p, IsDir: true}, nil
}

// GetContent implements storage.Driver.
func (d *Driver) GetContent(ctx context.Context, p string) ([]byte, error) {
	name, err := d.name(p)
	if err != nil {
		return nil, err
	}
	r, err := d.obj(name).NewReader(ctx)
	if err != nil {
		return nil, fail("get", p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fail("get", p, err)
	}
	return b, nil
}

// PutContent implements storage.Driver with one single-request upload, which
// GCS makes visible atomically and only once stored durably.
func (d *Driver) PutContent(ctx context.Context, p string, data []byte) error {
	name, err := d.name(p)
	if err != nil {
		return err
	}
	w := d.obj(name).NewWriter(ctx)
	w.ChunkSize = 0 // one request: the bytes are in memory already
	w.ContentType = contentType
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		w.Close()
		return fail("put", p, err)
	}
	if err := w.Close(); err != nil {
		return fail("put", p, err)
	}
	return nil
}

// Move implements storage.Driver: a server-side copy (the SDK repeats the
// rewrite call until done), then a delete of src. The copy replaces dst
// atomically; between the two steps both exist.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	from, err := d.name(src)
	if err != nil {
		return err
	}
	to, err := d.name(dst)
	if err != nil {
		return err
	}
	attrs, err := d.obj(from).Attrs(ctx)
	if err != nil {
		return fail("move", src, err)
	}
	if from == to {
		return nil
	}
	if _, err := d.obj(to).CopierFrom(d.obj(from).Generation(attrs.Generation)).Run(ctx); err != nil {
		return fail("move", src+" to "+dst, err)
	}
	if err := d.obj(from).Delete(ctx); err != nil && !isNotFound(err) {
		return fail("move: delete", src, err)
	}
	return nil
}

// CanSign reports whether the driver can sign redirect URLs: only with a
// service-account key (credentials_file).
func (d *Driver) CanSign() bool { return d.signer != nil }

// RedirectURL implements storage.Redirector with a V4 signed URL for a GET
// of the one object, signed with the service account's private key. A
// driver on application default credentials has no key and returns an
// error, so Berth serves the bytes itself.
func (d *Driver) RedirectURL(ctx context.Context, p string, expires time.Duration) (string, error) {
	name, err := d.name(p)
	if err != nil {
		return "", err
	}
	if expires <= 0 || expires > 7*24*time.Hour {
		return "", fmt.Errorf("gcs redirect %s: expiry %v not in (0, 7 days]", p, expires)
	}
	if d.signer == nil {
		return "", fmt.Errorf("gcs redirect %s: no service-account key to sign with (application default credentials)", p)
	}
	u, err := d.bkt.SignedURL(name, &storage.SignedURLOptions{
		Scheme:         storage.SigningSchemeV4,
		Method:         http.MethodGet,
		GoogleAccessID: d.signer.email,
		PrivateKey:     d.signer.key,
		Expires:        time.Now().Add(expires),
		Hostname:       d.signer.host,
		Insecure:       d.signer.insecure,
	})
	if err != nil {
		return "", fail("sign", p, err)
	}
	return u, nil
}

// components is the number of components of an object as the driver
// counts them (at least one).
func components(a *storage.ObjectAttrs) int {
	n := int(a.ComponentCount)
	var m int
	if _, err := fmt.Sscan(a.Metadata[metaComponents], &m); err == nil {
		n = max(n, m)
	}
	return max(n, 1)
}
