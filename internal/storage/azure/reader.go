package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// Reader implements storage.Driver. The reader streams one ranged GET and
// also seeks: a seek only moves the position, and the next Read opens a new
// ranged GET there (pinned to the same blob version by its ETag). Seeking to
// where the stream already is keeps it, so http.ServeContent's size probe
// costs nothing.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	name, err := d.name(p)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("azure reader %s: negative offset %d", p, offset)
	}
	r := &reader{d: d, ctx: ctx, name: name, path: p, pos: offset}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

type reader struct {
	d          *Driver
	ctx        context.Context
	name, path string
	etag       azcore.ETag
	pos, size  int64
	body       io.ReadCloser // positioned at pos; nil when it must be reopened
	closed     bool
}

// open starts a GET at r.pos, learning the size and ETag on the first call.
func (r *reader) open() error {
	opts := &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: r.pos}}
	if r.etag != "" {
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &r.etag}}
	}
	out, err := r.d.blob(r.name).DownloadStream(r.ctx, opts)
	if bloberror.HasCode(err, bloberror.InvalidRange) {
		// Reading at or past the end is not an error, just EOF.
		props, perr := r.d.blob(r.name).GetProperties(r.ctx, nil)
		if perr != nil {
			return fail("read", r.path, perr)
		}
		if r.etag == "" {
			r.etag, r.size = deref(props.ETag), deref(props.ContentLength)
		}
		r.body = io.NopCloser(bytes.NewReader(nil))
		return nil
	}
	if err != nil {
		return fail("read", r.path, err)
	}
	if r.etag == "" {
		r.etag = deref(out.ETag)
		r.size = r.pos + deref(out.ContentLength)
		if cr := deref(out.ContentRange); cr != "" {
			// "bytes 10-99/100": the total is authoritative.
			if i := strings.LastIndexByte(cr, '/'); i >= 0 {
				if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
					r.size = n
				}
			}
		}
	}
	r.body = out.Body
	return nil
}

func (r *reader) Read(b []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("azure reader %s: %w", r.path, os.ErrClosed)
	}
	if r.body == nil {
		if r.pos >= r.size {
			return 0, io.EOF
		}
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.body.Read(b)
	r.pos += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fail("read", r.path, err)
	}
	return n, err
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	pos := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		pos += r.pos
	case io.SeekEnd:
		pos += r.size
	default:
		return r.pos, fmt.Errorf("azure reader %s: bad whence %d", r.path, whence)
	}
	if pos < 0 {
		return r.pos, fmt.Errorf("azure reader %s: seek to negative position %d", r.path, pos)
	}
	if pos != r.pos && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.pos = pos
	return pos, nil
}

func (r *reader) Close() error {
	r.closed = true
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
