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

// hashCopy copies src to dst and feeds every byte dst accepted to h. A
// body that fits in one buffer is hashed inline; a longer one is hashed on
// a second goroutine over a ring of buffers, so that reading the network
// and writing the disk overlap with the digest computation. It returns the
// bytes written; the hash covers exactly those bytes, also when an error
// stops the copy. A clean end of src is not an error.
func hashCopy(dst io.Writer, src io.Reader, h hash.Hash) (int64, error) {
	first := bufPool.Get().(*[]byte)
	defer bufPool.Put(first)
	n, rerr := fill(src, *first)
	if rerr != nil { // all of it, or all there will be
		m, werr := write(dst, (*first)[:n])
		h.Write((*first)[:m])
		if werr != nil {
			return int64(m), werr
		}
		return int64(m), readErr(rerr)
	}
	var ring [copyBufs]*[]byte
	ring[0] = first
	for i := 1; i < copyBufs; i++ {
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
		if i != 0 || written != 0 { // the first buffer is filled already
			n, rerr = fill(src, *ring[i])
		}
		if n > 0 {
			m, werr := write(dst, (*ring[i])[:n])
			if m > 0 {
				written += int64(m)
				pending++
				work <- (*ring[i])[:m]
			}
			if werr != nil {
				err = werr
				break
			}
		}
		if rerr != nil {
			err = readErr(rerr)
			break
		}
	}
	close(work)
	for range hashed {
	}
	return written, err
}

// write writes b to dst, turning a short write into an error.
func write(dst io.Writer, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	m, err := dst.Write(b)
	if err == nil && m < len(b) {
		err = io.ErrShortWrite
	}
	return m, err
}

// readErr is a read error that stopped a copy; nil at a clean end.
func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
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
