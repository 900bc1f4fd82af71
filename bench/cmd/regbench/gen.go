package main

// Deterministic test data. Big blobs are sequences of 64 KiB blocks picked
// from a 64 MiB table of pseudo-random bytes (filled once from a fixed
// ChaCha8 seed), so producing them costs no CPU: the reader hands slices of
// the table straight to the socket. Different seeds give different block
// orders and therefore different digests. Small blobs (configs, 10 KiB
// layers) are filled from a PCG stream keyed by their seed.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"

	"github.com/opencontainers/go-digest"
)

const (
	blockSize   = 64 << 10
	tableBlocks = 1024
	// Seeds of big blobs must differ modulo tableBlocks to differ in content.
	seedSpace = tableBlocks
)

var (
	tableOnce sync.Once
	table     []byte
)

func genTable() []byte {
	tableOnce.Do(func() {
		var key [32]byte
		copy(key[:], "berth-bench-fixed-table-seed-v1!")
		r := rand.NewChaCha8(key)
		table = make([]byte, tableBlocks*blockSize)
		_, _ = r.Read(table)
	})
	return table
}

// block returns block k of the big blob with the given seed.
func block(seed uint64, k int64) []byte {
	t := genTable()
	i := (seed*7919 + uint64(k)) % tableBlocks
	return t[i*blockSize : (i+1)*blockSize]
}

// blobReader streams the big blob (seed, size). It implements io.WriterTo so
// io.Copy writes table slices without copying.
type blobReader struct {
	seed      uint64
	size, off int64
}

func newBlobReader(seed uint64, size int64) *blobReader {
	return &blobReader{seed: seed, size: size}
}

func newBlobRangeReader(seed uint64, off, end int64) io.Reader {
	return &blobReader{seed: seed, size: end, off: off}
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < r.size {
		b := block(r.seed, r.off/blockSize)[r.off%blockSize:]
		if rem := r.size - r.off; int64(len(b)) > rem {
			b = b[:rem]
		}
		c := copy(p[n:], b)
		n += c
		r.off += int64(c)
	}
	return n, nil
}

// WriteTo writes the rest of the blob as table slices, 16 blocks (1 MiB) per
// call; to a TCP connection that is one writev.
func (r *blobReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < r.size {
		var bufs net.Buffers
		for len(bufs) < 16 && r.off < r.size {
			b := block(r.seed, r.off/blockSize)[r.off%blockSize:]
			if rem := r.size - r.off; int64(len(b)) > rem {
				b = b[:rem]
			}
			bufs = append(bufs, b)
			r.off += int64(len(b))
		}
		want := int64(0)
		for _, b := range bufs {
			want += int64(len(b))
		}
		n, err := bufs.WriteTo(w)
		total += n
		if err == nil && n < want {
			err = io.ErrShortWrite
		}
		if err != nil {
			r.off -= want - n
			return total, err
		}
	}
	return total, nil
}

var (
	digestMu    sync.Mutex
	digestCache = map[[2]uint64]digest.Digest{}
)

// bigDigest returns the sha256 digest of big blob (seed, size), computed once.
func bigDigest(seed uint64, size int64) digest.Digest {
	key := [2]uint64{seed, uint64(size)}
	digestMu.Lock()
	d, ok := digestCache[key]
	digestMu.Unlock()
	if ok {
		return d
	}
	h := sha256.New()
	_, _ = newBlobReader(seed, size).WriteTo(h)
	d = digest.NewDigest(digest.SHA256, h)
	digestMu.Lock()
	digestCache[key] = d
	digestMu.Unlock()
	return d
}

// precomputeDigests hashes several big blobs in parallel, before any timing.
func precomputeDigests(size int64, seeds ...uint64) {
	var wg sync.WaitGroup
	for _, s := range seeds {
		wg.Add(1)
		go func() { defer wg.Done(); bigDigest(s, size) }()
	}
	wg.Wait()
}

// blobChecker is an io.Writer that verifies streamed bytes against big blob
// (seed, size). In full mode every byte is compared; otherwise the first 64
// bytes of every block (which identify the block, so reordering, truncation
// or a wrong blob are caught) and the length.
type blobChecker struct {
	seed       uint64
	size, off  int64
	full       bool
	mismatchAt int64
}

func newBlobChecker(seed uint64, size int64, full bool) *blobChecker {
	return &blobChecker{seed: seed, size: size, full: full, mismatchAt: -1}
}

func (c *blobChecker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.off >= c.size {
			c.fail()
			return n, nil
		}
		inBlock := c.off % blockSize
		want := block(c.seed, c.off/blockSize)[inBlock:]
		if rem := c.size - c.off; int64(len(want)) > rem {
			want = want[:rem]
		}
		m := min(len(want), len(p))
		if c.full {
			if !bytes.Equal(p[:m], want[:m]) {
				c.fail()
			}
		} else if inBlock < 64 {
			k := min(m, 64-int(inBlock))
			if !bytes.Equal(p[:k], want[:k]) {
				c.fail()
			}
		}
		p = p[m:]
		c.off += int64(m)
	}
	return n, nil
}

func (c *blobChecker) fail() {
	if c.mismatchAt < 0 {
		c.mismatchAt = c.off
	}
}

func (c *blobChecker) err() error {
	if c.mismatchAt >= 0 {
		return fmt.Errorf("pulled bytes differ from the pushed blob at offset %d", c.mismatchAt)
	}
	if c.off != c.size {
		return fmt.Errorf("pulled %d bytes, want %d", c.off, c.size)
	}
	return nil
}

// smallBlob returns size deterministic bytes for seed, and their digest.
func smallBlob(seed uint64, size int) ([]byte, digest.Digest) {
	b := make([]byte, size)
	r := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := size &^ 7; i < size; i++ {
		b[i] = byte(r.Uint64())
	}
	return b, digest.FromBytes(b)
}
