// Package storagetest is the behavioural suite every storage.Driver must
// pass. A driver's test calls Run with a constructor for a fresh, empty
// driver.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/storage"
)

// Run runs the suite; newDriver must return an empty driver each call.
func Run(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d storage.Driver)
	}{
		{"PutGetContent", testPutGet},
		{"NotFound", testNotFound},
		{"InvalidPaths", testInvalidPaths},
		{"ReaderOffset", testReaderOffset},
		{"WriterResume", testWriterResume},
		{"WriterCancel", testWriterCancel},
		{"WriterBeyondEnd", testWriterBeyondEnd},
		{"MoveReplaces", testMove},
		{"DeleteTree", testDelete},
		{"WalkOrder", testWalk},
		{"List", testList},
		{"ConcurrentWriters", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDriver(t)) })
	}
}

var ctx = context.Background()

func testPutGet(t *testing.T, d storage.Driver) {
	for _, size := range []int{0, 1, 4096, 3<<20 + 7} {
		data := pattern(size)
		if err := d.PutContent(ctx, "a/b/c", data); err != nil {
			t.Fatal(err)
		}
		got, err := d.GetContent(ctx, "a/b/c")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: GetContent = %d bytes, %v", size, len(got), err)
		}
		fi, err := d.Stat(ctx, "a/b/c")
		if err != nil || fi.Size != int64(size) || fi.IsDir {
			t.Fatalf("Stat = %+v, %v", fi, err)
		}
	}
}

func testNotFound(t *testing.T, d storage.Driver) {
	if _, err := d.Stat(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat: %v", err)
	}
	if _, err := d.GetContent(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetContent: %v", err)
	}
	if _, err := d.Reader(ctx, "nope", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Reader: %v", err)
	}
	if err := d.Delete(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Delete: %v", err)
	}
	if err := d.Move(ctx, "nope", "other"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Move: %v", err)
	}
}

func testInvalidPaths(t *testing.T, d storage.Driver) {
	for _, p := range []string{"", "/abs", "../up", "a/../../b", "a//b", "./a", "a/", "..", "."} {
		if err := d.PutContent(ctx, p, []byte("x")); !errors.Is(err, storage.ErrInvalidPath) {
			t.Errorf("PutContent(%q) = %v, want ErrInvalidPath", p, err)
		}
		if _, err := d.Writer(ctx, p, 0); !errors.Is(err, storage.ErrInvalidPath) {
			t.Errorf("Writer(%q) = %v, want ErrInvalidPath", p, err)
		}
	}
}

func testReaderOffset(t *testing.T, d storage.Driver) {
	data := pattern(100000)
	if err := d.PutContent(ctx, "r", data); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1, 65536, 99999, 100000} {
		rc, err := d.Reader(ctx, "r", off)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Fatalf("offset %d: %d bytes, %v", off, len(got), err)
		}
	}
}

func testWriterResume(t *testing.T, d storage.Driver) {
	data := pattern(10000)
	w, err := d.Writer(ctx, "up/1", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:4000])
	if w.Size() != 4000 {
		t.Fatalf("Size = %d", w.Size())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Resume at 3000: the extra 1000 bytes written before are dropped.
	w, err = d.Writer(ctx, "up/1", 3000)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[3000:])
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetContent(ctx, "up/1")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed content: %d bytes, %v", len(got), err)
	}
}

func testWriterCancel(t *testing.T, d storage.Driver) {
	w, err := d.Writer(ctx, "up/2", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("partial"))
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "up/2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cancelled file still there: %v", err)
	}
}

func testWriterBeyondEnd(t *testing.T, d storage.Driver) {
	if err := d.PutContent(ctx, "short", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Writer(ctx, "short", 10); !errors.Is(err, storage.ErrInvalidOffset) {
		t.Fatalf("Writer beyond end = %v, want ErrInvalidOffset", err)
	}
}

func testMove(t *testing.T, d storage.Driver) {
	d.PutContent(ctx, "src", []byte("new"))
	d.PutContent(ctx, "x/y/dst", []byte("old"))
	if err := d.Move(ctx, "src", "x/y/dst"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.GetContent(ctx, "x/y/dst"); string(got) != "new" {
		t.Fatalf("dst = %q", got)
	}
	if _, err := d.Stat(ctx, "src"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("src still there: %v", err)
	}
	if err := d.Move(ctx, "x/y/dst", "fresh/dir/file"); err != nil {
		t.Fatalf("Move into new directories: %v", err)
	}
}

func testDelete(t *testing.T, d storage.Driver) {
	d.PutContent(ctx, "t/a", []byte("1"))
	d.PutContent(ctx, "t/b/c", []byte("2"))
	d.PutContent(ctx, "tt", []byte("3"))
	if err := d.Delete(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"t/a", "t/b/c"} {
		if _, err := d.Stat(ctx, p); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s survived: %v", p, err)
		}
	}
	if _, err := d.Stat(ctx, "tt"); err != nil {
		t.Errorf("sibling with the same prefix was deleted: %v", err)
	}
}

// testList: a driver that can list a directory (storage.Lister) names
// its files and subdirectories once each, sorted.
func testList(t *testing.T, d storage.Driver) {
	l, ok := d.(storage.Lister)
	if !ok {
		t.Skip("the driver cannot list a directory")
	}
	for _, p := range []string{"l/b", "l/a/2", "l/a/1", "l/c/d/e", "lx/not"} {
		d.PutContent(ctx, p, []byte(p))
	}
	w, err := d.Writer(ctx, "l/f", 0) // a file being written
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("partial"))
	w.Close()
	got, err := l.List(ctx, "l")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a b c f"; strings.Join(got, " ") != want {
		t.Fatalf("List = %v, want %s", got, want)
	}
	if _, err := l.List(ctx, "nothing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("List of nothing: %v", err)
	}
}

func testWalk(t *testing.T, d storage.Driver) {
	for _, p := range []string{"w/b", "w/a/2", "w/a/1", "w/c/d/e", "x/not"} {
		d.PutContent(ctx, p, []byte(p))
	}
	var got []string
	err := d.Walk(ctx, "w", func(fi storage.FileInfo) error {
		got = append(got, fi.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "w/a/1 w/a/2 w/b w/c/d/e"; strings.Join(got, " ") != want {
		t.Fatalf("Walk = %v, want %s", got, want)
	}
}

func testConcurrent(t *testing.T, d storage.Driver) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := "c/" + string(rune('a'+i))
			w, err := d.Writer(ctx, p, 0)
			if err != nil {
				t.Error(err)
				return
			}
			for range 16 {
				w.Write(pattern(4096))
			}
			if err := w.Commit(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range 8 {
		fi, err := d.Stat(ctx, "c/"+string(rune('a'+i)))
		if err != nil || fi.Size != 16*4096 {
			t.Errorf("file %d: %+v %v", i, fi, err)
		}
	}
}

// pattern returns n deterministic bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}
