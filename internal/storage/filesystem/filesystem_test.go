package filesystem_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
	"github.com/berth-registry/berth/internal/storage/storagetest"
)

func TestDriver(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		d, err := filesystem.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestNewRejectsEmptyRoot(t *testing.T) {
	if _, err := filesystem.New(""); err == nil {
		t.Fatal("New(\"\") succeeded")
	}
}

// TestWriterWritesBackWhileStreaming writes files of several write-back
// chunks in uneven writes, in one writer and in two (a chunked upload
// resumed at an offset), and checks that what Commit leaves is exactly
// what was written.
func TestWriterWritesBackWhileStreaming(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 3*8<<20+12345)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(data)
	tests := []struct {
		name  string
		split int64 // a second writer continues from here; 0: one writer
		step  int
	}{
		{"one writer, 1 MiB writes", 0, 1 << 20},
		{"one writer, uneven writes", 0, 777_777},
		{"resumed mid-chunk", 5<<20 + 3, 1 << 20},
		{"resumed after two chunks", 16<<20 + 1, 65_536},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := filesystem.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			write := func(from, to int64, commit bool) {
				w, err := d.Writer(ctx, "uploads/u", from)
				if err != nil {
					t.Fatal(err)
				}
				for off := from; off < to; off += int64(tt.step) {
					if _, err := w.Write(data[off:min(to, off+int64(tt.step))]); err != nil {
						t.Fatal(err)
					}
				}
				if w.Size() != to {
					t.Fatalf("Size() = %d, want %d", w.Size(), to)
				}
				if commit {
					err = w.Commit(ctx)
				} else {
					err = w.Close()
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			n := int64(len(data))
			if tt.split > 0 {
				write(0, tt.split, false)
				write(tt.split, n, true)
			} else {
				write(0, n, true)
			}
			got, err := d.GetContent(ctx, "uploads/u")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("stored %d bytes differ from the %d written", len(got), len(data))
			}
		})
	}
}
