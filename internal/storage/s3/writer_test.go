package s3_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/s3"
)

// appendChunks writes each chunk through a new Writer at the current size,
// like one PATCH each, and closes it; the last is committed when commit.
func appendChunks(t *testing.T, d storage.Driver, p string, chunks [][]byte, commit bool) {
	t.Helper()
	var off int64
	for i, c := range chunks {
		w, err := d.Writer(ctx, p, off)
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

func TestSmallChunks(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(10 * 100 << 10)
	var chunks [][]byte
	for i := range 10 {
		chunks = append(chunks, data[i*100<<10:(i+1)*100<<10])
	}
	appendChunks(t, d, "uploads/small", chunks, false)
	if fi, err := d.Stat(ctx, "uploads/small"); err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("Stat(uncommitted) = %+v, %v", fi, err)
	}
	w, err := d.Writer(ctx, "uploads/small", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(len(data)) {
		t.Fatalf("resumed Size = %d", w.Size())
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "uploads/small", data)
	checkNoSession(t, d, "uploads/small")
}

func TestLargeAcrossWriters(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(40 * MiB)
	// Chunks below, across and at part boundaries (parts are 5 MiB).
	chunks := split(data, 3*MiB, 1, 9*MiB-1, 5*MiB, 100<<10, 13*MiB)
	appendChunks(t, d, "uploads/large", chunks, true)
	checkContent(t, d, "uploads/large", data)
	checkNoSession(t, d, "uploads/large")
	if err := d.Move(ctx, "uploads/large", "blobs/large"); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "blobs/large", data)
}

// A Writer at an offset below the size drops the bytes after it, wherever
// the offset falls: in the tail, on a part boundary, inside a part, or in
// a committed file.
func TestWriterRewind(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(23 * MiB)
	for _, tc := range []struct {
		name    string
		written int  // bytes written before, in two chunks split at offset
		offset  int  // where the next Writer starts
		commit  bool // commit the second chunk
	}{
		{"in tail", 12 * MiB, 11 * MiB, false},
		{"at part boundary", 12 * MiB, 5 * MiB, false},
		{"inside a part", 17 * MiB, 7*MiB + 12345, false},
		{"inside the first part", 12 * MiB, 4 * MiB, false},
		{"to zero", 12 * MiB, 0, false},
		{"committed, small", 3 * MiB, 2 * MiB, true},
		{"committed, large", 17 * MiB, 11*MiB + 1, true},
		{"committed, at end", 12 * MiB, 12 * MiB, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "uploads/" + tc.name
			old := pattern(tc.written + 7)[7:] // other bytes than data
			appendChunks(t, d, p, [][]byte{old[:tc.offset], old[tc.offset:]}, tc.commit)
			w, err := d.Writer(ctx, p, int64(tc.offset))
			if err != nil {
				t.Fatal(err)
			}
			if w.Size() != int64(tc.offset) {
				t.Fatalf("Size = %d", w.Size())
			}
			w.Write(data[tc.offset:])
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			want := append(old[:tc.offset:tc.offset], data[tc.offset:]...)
			checkContent(t, d, p, want)
			checkNoSession(t, d, p)
		})
	}
}

// A writer that dies after uploading parts but before Close leaves the
// session as its last Close saved it.
func TestWriterDiesBeforeClose(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(20 * MiB)
	appendChunks(t, d, "uploads/d", [][]byte{data[:3*MiB]}, false)
	w, err := d.Writer(ctx, "uploads/d", 3*MiB)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pattern(9 * MiB)) // uploads a part, then is abandoned
	w, err = d.Writer(ctx, "uploads/d", 3*MiB)
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != 3*MiB {
		t.Fatalf("Size after a dead writer = %d", w.Size())
	}
	w.Write(data[3*MiB:])
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "uploads/d", data)

	// A fresh writer records its upload before the first part, so Delete
	// can abort it.
	w, err = d.Writer(ctx, "uploads/e", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:11*MiB])
	if err := d.Delete(ctx, "uploads/e"); err != nil {
		t.Fatal(err)
	}
	checkNoSession(t, d, "uploads/e")
}

func TestCancelAfterClose(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(12 * MiB)
	appendChunks(t, d, "uploads/c", [][]byte{data[:6*MiB]}, false)
	w, err := d.Writer(ctx, "uploads/c", 6*MiB)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[6*MiB:])
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	checkNoSession(t, d, "uploads/c")
	if _, err := d.Writer(ctx, "uploads/c", 1); !errors.Is(err, storage.ErrInvalidOffset) {
		t.Fatalf("Writer after Cancel: %v", err)
	}
	if err := d.Delete(ctx, "uploads/c"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Delete after Cancel: %v", err)
	}
}

func TestDeleteTreeWithSessions(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(7 * MiB)
	appendChunks(t, d, "uploads/a/1", [][]byte{data}, false)
	appendChunks(t, d, "uploads/a/2", [][]byte{data[:100]}, false)
	if err := d.Delete(ctx, "uploads/a"); err != nil {
		t.Fatal(err)
	}
	checkNoSession(t, d, "uploads/a/1")
	checkNoSession(t, d, "uploads/a/2")
	if err := d.Delete(ctx, "uploads/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second Delete = %v", err)
	}
}

// The writer holds at most one part, however much goes through it.
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
		if c := s3.BufferCap(w); c > 5*MiB {
			t.Fatalf("buffer capacity %d > one part", c)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// One part buffer plus the SDK's per-request garbage; far below 40 MiB.
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 16*MiB {
		t.Fatalf("writing 40 MiB allocated %d MiB", alloc/MiB)
	}
	t.Logf("writing 40 MiB in 5 MiB parts allocated %.1f MiB", float64(alloc)/MiB)
}

// checkNoSession asserts that no side object or multipart upload is left.
func checkNoSession(t *testing.T, d *s3.Driver, p string) {
	t.Helper()
	c := s3.Client(d)
	bucket := s3.Bucket(d)
	if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &bucket, Key: aws.String(p + ".pending")}); err == nil {
		t.Errorf("%s.pending left behind", p)
	}
	out, err := c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &p})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == p {
			t.Errorf("multipart upload %s left behind for %s", aws.ToString(u.UploadId), p)
		}
	}
}

// A session whose upload was completed behind it (a rewind or a Commit that
// died before deleting the side object) gives way to the object.
func TestWriterStaleSession(t *testing.T) {
	d := newDriver(t, "")
	old, data := pattern(12*MiB + 7)[7:], pattern(20*MiB)
	appendChunks(t, d, "uploads/s", split(old, 6*MiB), false)
	w, err := d.Writer(ctx, "uploads/s", 7*MiB) // inside part 2: completes parts 1-2
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[7*MiB : 8*MiB]) // then dies without Close
	w, err = d.Writer(ctx, "uploads/s", 7*MiB)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[7*MiB:])
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "uploads/s", append(old[:7*MiB:7*MiB], data[7*MiB:]...))
	if _, err := d.Writer(ctx, "uploads/s", 21*MiB); !errors.Is(err, storage.ErrInvalidOffset) {
		t.Fatalf("Writer beyond a committed file: %v", err)
	}

	// Back to zero and committed small: one PutObject, the upload aborted.
	appendChunks(t, d, "uploads/z", [][]byte{old}, false)
	appendChunks(t, d, "uploads/z", [][]byte{[]byte("tiny")}, true)
	checkContent(t, d, "uploads/z", []byte("tiny"))
	checkNoSession(t, d, "uploads/z")
}

// Walk visits files being written once, committed or not.
func TestWalkSessions(t *testing.T) {
	d := newDriver(t, "")
	d.PutContent(ctx, "w/a", []byte("committed"))
	d.PutContent(ctx, "w/a-x", []byte("sorts before w/a.pending"))
	appendChunks(t, d, "w/a", [][]byte{[]byte("commi"), []byte("tted, then resumed")}, false)
	appendChunks(t, d, "w/b", [][]byte{pattern(6 * MiB), pattern(100)}, false)
	var got []string
	err := d.Walk(ctx, "w", func(fi storage.FileInfo) error {
		got = append(got, fmt.Sprintf("%s:%d", fi.Path, fi.Size))
		if fi.ModTime.IsZero() {
			t.Errorf("%s: no ModTime", fi.Path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("w/a:9 w/a-x:24 w/b:%d", 6*MiB+100)
	if strings.Join(got, " ") != want {
		t.Fatalf("Walk = %v, want %s", got, want)
	}
}
