package gcs_test

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/gcs"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
)

// appendChunks writes each chunk through a new Writer at the current size,
// like one PATCH each, on the driver next(i) returns, and closes it; the
// last is committed when commit.
func appendChunks(t *testing.T, next func(i int) storage.Driver, p string, chunks [][]byte, commit bool) {
	t.Helper()
	var off int64
	for i, c := range chunks {
		w, err := next(i).Writer(ctx, p, off)
		if err != nil {
			t.Fatalf("chunk %d: Writer(%d): %v", i, off, err)
		}
		if n, err := w.Write(c); n != len(c) || err != nil {
			t.Fatalf("chunk %d: Write = %d, %v", i, n, err)
		}
		off += int64(len(c))
		if w.Size() != off {
			t.Fatalf("chunk %d: Size = %d, want %d", i, w.Size(), off)
		}
		if commit && i == len(chunks)-1 {
			err = w.Commit(ctx)
		} else {
			err = w.Close()
		}
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
}

func split(data []byte, sizes ...int) [][]byte {
	var out [][]byte
	for _, n := range sizes {
		out, data = append(out, data[:n]), data[n:]
	}
	return append(out, data)
}

// noParts fails the test if any part object is left in the bucket.
func noParts(t *testing.T, d *gcs.Driver) {
	t.Helper()
	names, err := gcs.Objects(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(n, ".berth-part-") {
			t.Errorf("part object left: %s (all: %v)", n, names)
		}
	}
}

// Chunks written by alternating driver instances (two registry processes
// behind a load balancer) add up: each appends a composed part, and no part
// object remains.
func TestResumeAcrossInstances(t *testing.T) {
	cfg := gcstest.Start(t)
	cfg.ChunkSize = 256 * KiB
	ds := [2]storage.Driver{open(t, cfg), open(t, cfg)}
	data := pattern(3*MiB + 12345)
	var chunks [][]byte
	for rest := data; len(rest) > 0; {
		n := min(300*KiB, len(rest))
		chunks, rest = append(chunks, rest[:n]), rest[n:]
	}
	last := len(chunks) - 1
	appendChunks(t, func(i int) storage.Driver { return ds[i%2] }, "uploads/x", chunks[:last], false)
	// Visible between requests with the bytes written so far.
	if fi, err := ds[1].Stat(ctx, "uploads/x"); err != nil || fi.Size != int64(len(data)-len(chunks[last])) {
		t.Fatalf("Stat between chunks = %+v, %v", fi, err)
	}
	w, err := ds[1].Writer(ctx, "uploads/x", int64(len(data)-len(chunks[last])))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(chunks[last])
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, ds[0], "uploads/x", data)
	if n, err := gcs.Components(ctx, ds[0].(*gcs.Driver), "uploads/x"); err != nil || n != len(chunks) {
		t.Fatalf("components = %d, %v; want %d, one per chunk", n, err, len(chunks))
	}
	noParts(t, ds[0].(*gcs.Driver))
}

// Past the component limit a writer rewrites the file as one object.
func TestComponentLimit(t *testing.T) {
	d := newDriver(t, "")
	gcs.SetMaxComponents(d, 3)
	data := pattern(2*MiB + 77)
	chunks := split(data, 100*KiB, 300*KiB, 5, 600*KiB, 1, 200*KiB, 333*KiB)
	appendChunks(t, func(int) storage.Driver { return d }, "f", chunks, true)
	checkContent(t, d, "f", data)
	n, err := gcs.Components(ctx, d, "f")
	if err != nil || n > 3 {
		t.Fatalf("components = %d, %v; want at most 3", n, err)
	}
	noParts(t, d)
}

// A Writer at an offset inside the file drops what follows.
func TestWriterOffsetsInside(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(MiB + 500)
	next := pattern(MiB + 1000)[7:]
	for _, off := range []int64{0, 1, 256 * KiB, 300 * KiB, MiB - 1, MiB, MiB + 200, MiB + 500} {
		appendChunks(t, func(int) storage.Driver { return d }, "f", split(data, 100*KiB, 500*KiB), false)
		w, err := d.Writer(ctx, "f", off)
		if err != nil {
			t.Fatalf("Writer(%d): %v", off, err)
		}
		if w.Size() != off {
			t.Fatalf("Writer(%d).Size = %d", off, w.Size())
		}
		w.Write(next)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte(nil), data[:off]...), next...)
		checkContent(t, d, "f", want)
		if err := d.Delete(ctx, "f"); err != nil {
			t.Fatal(err)
		}
	}
	// Truncating without writing: Close keeps the shorter file.
	appendChunks(t, func(int) storage.Driver { return d }, "g", [][]byte{data}, false)
	w, err := d.Writer(ctx, "g", 300*KiB+5)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "g", data[:300*KiB+5])
	if err := w.Close(); !errors.Is(err, errClosed) {
		t.Fatalf("second Close = %v", err)
	}
	noParts(t, d)
}

// A writer that dies before Close leaves the file as its last Close did; a
// part left by a process that died before composing it is never listed, and
// goes with its file. An empty Writer(0) creates an empty file.
func TestWriterDiesBeforeClose(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(2 * MiB)
	appendChunks(t, func(int) storage.Driver { return d }, "u/f", [][]byte{data[:MiB/2]}, false)
	w, err := d.Writer(ctx, "u/f", MiB/2)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[MiB/2:]) // sends chunks of a part, then the process "dies"
	checkContent(t, d, "u/f", data[:MiB/2])
	appendChunks(t, func(int) storage.Driver { return d }, "u/f", [][]byte{data[:MiB/2], data[MiB/2:]}, true)
	checkContent(t, d, "u/f", data)

	if err := gcs.PutPart(ctx, d, "u/f", "dead", []byte("orphan")); err != nil {
		t.Fatal(err)
	}
	var walked []string
	d.Walk(ctx, "u", func(fi storage.FileInfo) error { walked = append(walked, fi.Path); return nil })
	if listed, err := d.List(ctx, "u"); err != nil || !slices.Equal(listed, []string{"f"}) || !slices.Equal(walked, []string{"u/f"}) {
		t.Fatalf("List = %v, %v; Walk = %v; want the file alone", listed, err, walked)
	}
	if err := d.Delete(ctx, "u/f"); err != nil {
		t.Fatal(err)
	}
	noParts(t, d)

	w, err = d.Writer(ctx, "empty", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := d.Stat(ctx, "empty"); err != nil || fi.Size != 0 {
		t.Fatalf("empty file: %+v, %v", fi, err)
	}
}

func TestCancelAfterClose(t *testing.T) {
	d := newDriver(t, "")
	appendChunks(t, func(int) storage.Driver { return d }, "c", [][]byte{pattern(MiB + 3)}, false)
	w, err := d.Writer(ctx, "c", MiB+3)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pattern(MiB))
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cancelled file: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, errClosed) {
		t.Fatalf("Write after Cancel = %v", err)
	}
	noParts(t, d)
}

// The writer holds about one chunk, however much goes through it: the live
// heap stays far below the 24 MiB written.
func TestWriterMemoryBounded(t *testing.T) {
	d := newDriver(t, "")
	chunk := pattern(256 * KiB)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, uint64(0)
	w, err := d.Writer(ctx, "uploads/m", 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 96 { // 24 MiB
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	grew := int64(peak) - int64(base)
	t.Logf("writing 24 MiB in 256 KiB chunks: heap peaked %.1f MiB above the start", float64(grew)/MiB)
	if grew > 12*MiB {
		t.Fatalf("writing 24 MiB grew the heap by %d MiB", grew/MiB)
	}
	if fi, err := d.Stat(ctx, "uploads/m"); err != nil || fi.Size != 24*MiB {
		t.Fatalf("Stat = %+v, %v", fi, err)
	}
}
