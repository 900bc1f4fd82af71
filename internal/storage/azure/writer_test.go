package azure_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/azure"
	"github.com/berth-registry/berth/internal/storage/azure/aztest"
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

// committedBlocks returns the sizes of a blob's committed blocks.
func committedBlocks(t *testing.T, d *azure.Driver, name string) []int64 {
	t.Helper()
	list, err := azure.Client(d).NewBlockBlobClient(name).GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, b := range list.BlockList.CommittedBlocks {
		sizes = append(sizes, *b.Size)
	}
	return sizes
}

// Chunks written by alternating driver instances (two registry processes
// behind a load balancer) add up, and a file closed many times still has
// full blocks: each writer reads a short last block back.
func TestResumeAcrossInstances(t *testing.T) {
	cfg := aztest.Start(t)
	cfg.BlockSize = MiB
	var ds [2]storage.Driver
	for i := range ds {
		d, err := azure.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ds[i] = d
	}
	data := pattern(5*MiB + 12345)
	var chunks [][]byte
	for rest := data; len(rest) > 0; {
		n := min(300<<10, len(rest))
		chunks, rest = append(chunks, rest[:n]), rest[n:]
	}
	appendChunks(t, func(i int) storage.Driver { return ds[i%2] }, "uploads/x", chunks[:len(chunks)-1], false)
	// Visible between requests with the bytes written so far.
	if fi, err := ds[1].Stat(ctx, "uploads/x"); err != nil || fi.Size != int64(len(data)-len(chunks[len(chunks)-1])) {
		t.Fatalf("Stat between chunks = %+v, %v", fi, err)
	}
	w, err := ds[1].Writer(ctx, "uploads/x", int64(len(data)-len(chunks[len(chunks)-1])))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(chunks[len(chunks)-1])
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, ds[0], "uploads/x", data)
	sizes := committedBlocks(t, ds[0].(*azure.Driver), "uploads/x")
	if len(sizes) != 6 {
		t.Fatalf("%d blocks %v, want 5 full ones and a short one", len(sizes), sizes)
	}
	for _, s := range sizes[:5] {
		if s != MiB {
			t.Fatalf("blocks %v: a short block before the last", sizes)
		}
	}
}

// A Writer at an offset inside the committed data drops what follows, at a
// block boundary, inside a block, and inside the last short block.
func TestWriterOffsetsInside(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(3*MiB + 500)
	next := pattern(3*MiB + 1000)[7:]
	for _, off := range []int64{0, 1, MiB, MiB + 17, 2*MiB - 1, 3 * MiB, 3*MiB + 200, 3*MiB + 500} {
		appendChunks(t, func(int) storage.Driver { return d }, "f", split(data, MiB/2, 2*MiB), false)
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
	// Truncating without writing: Close commits the shorter file.
	appendChunks(t, func(int) storage.Driver { return d }, "g", [][]byte{data}, false)
	w, err := d.Writer(ctx, "g", MiB+5)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "g", data[:MiB+5])
	if err := w.Close(); !errors.Is(err, errClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// A file not written by a Writer (PutContent: one Put Blob, no blocks) is
// read back into blocks when a Writer continues it.
func TestWriterAfterPutContent(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(2*MiB + 99)
	if err := d.PutContent(ctx, "p", data[:MiB+50]); err != nil {
		t.Fatal(err)
	}
	w, err := d.Writer(ctx, "p", MiB+50)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[MiB+50:])
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "p", data)
}

// A writer that dies before Close (its staged blocks uncommitted) leaves the
// file as its last Close did; an empty Writer(0) creates an empty file.
func TestWriterDiesBeforeClose(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(3 * MiB)
	appendChunks(t, func(int) storage.Driver { return d }, "u", [][]byte{data[:MiB/2]}, false)
	w, err := d.Writer(ctx, "u", MiB/2)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[MiB/2:]) // stages two blocks, then the process "dies"
	checkContent(t, d, "u", data[:MiB/2])
	appendChunks(t, func(int) storage.Driver { return d }, "u", [][]byte{data[:MiB/2], data[MiB/2:]}, true)
	checkContent(t, d, "u", data)

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
	w.Write(pattern(2 * MiB))
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cancelled file: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, errClosed) {
		t.Fatalf("Write after Cancel = %v", err)
	}
}

// The writer holds at most one block, however much goes through it.
func TestWriterMemoryBounded(t *testing.T) {
	d := newDriver(t, "")
	chunk := pattern(256 << 10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := d.Writer(ctx, "uploads/m", 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 160 { // 40 MiB
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if c := azure.BufferCap(w); c > MiB {
			t.Fatalf("buffer capacity %d > one block", c)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// One block buffer plus the SDK's per-request garbage; far below 40 MiB.
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 16*MiB {
		t.Fatalf("writing 40 MiB allocated %d MiB", alloc/MiB)
	}
	t.Logf("writing 40 MiB in 1 MiB blocks allocated %.1f MiB", float64(alloc)/MiB)
	if fi, err := d.Stat(ctx, "uploads/m"); err != nil || fi.Size != 40*MiB {
		t.Fatalf("Stat = %+v, %v", fi, err)
	}
}
