package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// RangeOpen opens an object's bytes from pos to its end, for a SeekReader.
// The first call fixes the version that later calls read (an ETag, a
// generation: a driver keeps it in the closure) and reports the object's
// size; at or past the end it returns an empty body, not an error. Its
// errors are the driver's own (already mapped to this package's).
type RangeOpen func(pos int64) (body io.ReadCloser, size int64, err error)

// SeekReader is the reader of the object-store drivers (S3, Azure, GCS):
// it streams one ranged read and also seeks. A seek only moves the
// position and the next Read opens a new ranged read there; seeking to
// where the stream already is keeps it.
type SeekReader struct {
	name      string // for errors, e.g. "s3 reader blobs/…"
	open      RangeOpen
	wrap      func(error) error
	pos, size int64
	body      io.ReadCloser // positioned at pos; nil when it must be reopened
	closed    bool
}

// NewSeekReader opens a SeekReader at pos. wrap maps an error of a body's
// Read (not io.EOF) to this package's errors.
func NewSeekReader(name string, pos int64, open RangeOpen, wrap func(error) error) (*SeekReader, error) {
	if pos < 0 {
		return nil, fmt.Errorf("%s: negative offset %d", name, pos)
	}
	r := &SeekReader{name: name, open: open, wrap: wrap, pos: pos}
	body, size, err := open(pos)
	if err != nil {
		return nil, err
	}
	r.body, r.size = body, size
	return r, nil
}

func (r *SeekReader) Read(b []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("%s: %w", r.name, os.ErrClosed)
	}
	if r.body == nil {
		if r.pos >= r.size {
			return 0, io.EOF
		}
		body, _, err := r.open(r.pos)
		if err != nil {
			return 0, err
		}
		r.body = body
	}
	n, err := r.body.Read(b)
	r.pos += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.wrap(err)
	}
	return n, err
}

func (r *SeekReader) Seek(offset int64, whence int) (int64, error) {
	pos := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		pos += r.pos
	case io.SeekEnd:
		pos += r.size
	default:
		return r.pos, fmt.Errorf("%s: bad whence %d", r.name, whence)
	}
	if pos < 0 {
		return r.pos, fmt.Errorf("%s: seek to negative position %d", r.name, pos)
	}
	if pos != r.pos && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.pos = pos
	return pos, nil
}

func (r *SeekReader) Close() error {
	r.closed = true
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}

// RangeTotal is the object's size from a ranged response: the total of a
// Content-Range ("bytes 10-99/100": 100) when there is one, else pos plus
// the body's length.
func RangeTotal(contentRange string, pos, length int64) int64 {
	if i := strings.LastIndexByte(contentRange, '/'); i >= 0 {
		if n, err := strconv.ParseInt(contentRange[i+1:], 10, 64); err == nil {
			return n
		}
	}
	return pos + length
}

// EmptyBody is the body of a read at or past an object's end.
func EmptyBody() io.ReadCloser { return io.NopCloser(strings.NewReader("")) }
