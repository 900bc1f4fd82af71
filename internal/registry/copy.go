package registry

import (
	"errors"
	"hash"
	"io"
	"sync"
)

const (
	copyBufSize = 1 << 20
	copyBufs    = 4
)

// bufPool holds the buffers uploads are copied through.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// hashCopy copies src to dst and feeds every byte dst accepted to h. Hashing
// runs on a second goroutine over a ring of buffers, so that reading the
// network and writing the disk overlap with the digest computation. It
// returns the bytes written; the hash covers exactly those bytes, also when
// an error stops the copy. A clean end of src is not an error.
func hashCopy(dst io.Writer, src io.Reader, h hash.Hash) (int64, error) {
	var ring [copyBufs]*[]byte
	for i := range ring {
		ring[i] = bufPool.Get().(*[]byte)
		defer bufPool.Put(ring[i])
	}
	work := make(chan []byte, copyBufs)
	hashed := make(chan struct{}, copyBufs)
	go func() {
		for b := range work {
			h.Write(b)
			hashed <- struct{}{}
		}
		close(hashed)
	}()
	var written int64
	var err error
	pending := 0
	for i := 0; ; i = (i + 1) % copyBufs {
		// The hasher works through buffers in order, so once fewer than
		// copyBufs are pending, ring[i] (the oldest) is free again.
		if pending == copyBufs {
			<-hashed
			pending--
		}
		n, rerr := fill(src, *ring[i])
		if n > 0 {
			m, werr := dst.Write((*ring[i])[:n])
			if m > 0 {
				written += int64(m)
				pending++
				work <- (*ring[i])[:m]
			}
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				err = werr
				break
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
	}
	close(work)
	for range hashed {
	}
	return written, err
}

// fill reads into buf until it is full or src returns an error (io.EOF at
// the end), returning the error as src gave it.
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
