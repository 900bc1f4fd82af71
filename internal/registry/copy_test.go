package registry

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// limitWriter accepts n bytes, then fails.
type limitWriter struct {
	buf bytes.Buffer
	n   int
}

func (w *limitWriter) Write(b []byte) (int, error) {
	if len(b) > w.n {
		m, _ := w.buf.Write(b[:w.n])
		w.n = 0
		return m, errors.New("disk full")
	}
	w.n -= len(b)
	return w.buf.Write(b)
}

func TestHashCopy(t *testing.T) {
	data := make([]byte, 5*copyBufSize+12345)
	for i := range data {
		data[i] = byte(i * 31)
	}
	tests := []struct {
		name    string
		src     io.Reader
		limit   int
		want    int
		wantErr bool
	}{
		{"whole", bytes.NewReader(data), len(data), len(data), false},
		{"one byte reads", iotest.OneByteReader(bytes.NewReader(data[:3000])), len(data), 3000, false},
		{"empty", bytes.NewReader(nil), 10, 0, false},
		{"reader breaks", io.MultiReader(bytes.NewReader(data[:copyBufSize+7]), iotest.ErrReader(io.ErrUnexpectedEOF)), len(data), copyBufSize + 7, true},
		{"writer fails", bytes.NewReader(data), 2*copyBufSize + 99, 2*copyBufSize + 99, true},
		{"exactly one buffer", bytes.NewReader(data[:copyBufSize]), len(data), copyBufSize, false},
		// Bodies that fit one buffer are hashed inline.
		{"small reader breaks", io.MultiReader(bytes.NewReader(data[:700]), iotest.ErrReader(io.ErrUnexpectedEOF)), len(data), 700, true},
		{"small writer fails", bytes.NewReader(data[:5000]), 99, 99, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &limitWriter{n: tc.limit}
			h := sha256.New()
			n, err := hashCopy(w, tc.src, h)
			if (err != nil) != tc.wantErr || n != int64(tc.want) {
				t.Fatalf("hashCopy = %d, %v; want %d, err %v", n, err, tc.want, tc.wantErr)
			}
			if !bytes.Equal(w.buf.Bytes(), data[:n]) {
				t.Fatal("written bytes differ")
			}
			if sum := sha256.Sum256(data[:n]); !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Fatal("hash does not cover exactly the written bytes")
			}
		})
	}
}
