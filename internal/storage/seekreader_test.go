package storage

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// fakeObject serves ranged reads of content and counts the opens.
type fakeObject struct {
	content string
	opens   []int64
}

func (o *fakeObject) open(pos int64) (io.ReadCloser, int64, error) {
	o.opens = append(o.opens, pos)
	if pos >= int64(len(o.content)) {
		return EmptyBody(), int64(len(o.content)), nil
	}
	return io.NopCloser(strings.NewReader(o.content[pos:])), int64(len(o.content)), nil
}

func TestSeekReader(t *testing.T) {
	errWrapped := errors.New("wrapped")
	wrap := func(error) error { return errWrapped }
	tests := []struct {
		name  string
		start int64
		steps func(t *testing.T, r *SeekReader) string
		want  string
		opens []int64
	}{
		{"whole object", 0, func(t *testing.T, r *SeekReader) string { return readAll(t, r) }, "0123456789", []int64{0}},
		{"from an offset", 4, func(t *testing.T, r *SeekReader) string { return readAll(t, r) }, "456789", []int64{4}},
		{"at the end", 10, func(t *testing.T, r *SeekReader) string { return readAll(t, r) }, "", []int64{10}},
		{"seek to where it is keeps the stream", 3, func(t *testing.T, r *SeekReader) string {
			if n, err := r.Seek(0, io.SeekCurrent); n != 3 || err != nil {
				t.Fatalf("Seek current = %d, %v", n, err)
			}
			if n, err := r.Seek(3, io.SeekStart); n != 3 || err != nil {
				t.Fatalf("Seek start = %d, %v", n, err)
			}
			return readAll(t, r)
		}, "3456789", []int64{3}},
		{"to the end and back reopens", 2, func(t *testing.T, r *SeekReader) string {
			// http.ServeContent's size probe: Seek(0, End), then back.
			if n, err := r.Seek(0, io.SeekEnd); n != 10 || err != nil {
				t.Fatalf("Seek end = %d, %v", n, err)
			}
			if n, err := r.Seek(2, io.SeekStart); n != 2 || err != nil {
				t.Fatalf("Seek back = %d, %v", n, err)
			}
			return readAll(t, r)
		}, "23456789", []int64{2, 2}},
		{"seek elsewhere reopens there", 0, func(t *testing.T, r *SeekReader) string {
			buf := make([]byte, 3)
			io.ReadFull(r, buf)
			if n, err := r.Seek(2, io.SeekCurrent); n != 5 || err != nil {
				t.Fatalf("Seek current = %d, %v", n, err)
			}
			return string(buf) + "|" + readAll(t, r)
		}, "012|56789", []int64{0, 5}},
		{"seek past the end reads nothing", 0, func(t *testing.T, r *SeekReader) string {
			r.Seek(20, io.SeekStart)
			return readAll(t, r)
		}, "", []int64{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &fakeObject{content: "0123456789"}
			r, err := NewSeekReader("test reader", tt.start, o.open, wrap)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.steps(t, r); got != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
			if !equalInts(o.opens, tt.opens) {
				t.Errorf("opens at %v, want %v", o.opens, tt.opens)
			}
		})
	}
}

func TestSeekReaderErrors(t *testing.T) {
	o := &fakeObject{content: "abc"}
	if _, err := NewSeekReader("test reader", -1, o.open, nil); err == nil {
		t.Fatal("negative offset accepted")
	}
	r, _ := NewSeekReader("test reader", 0, o.open, nil)
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Error("negative seek accepted")
	}
	if _, err := r.Seek(0, 7); err == nil {
		t.Error("bad whence accepted")
	}
	r.Close()
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close = %v", err)
	}
	boom := errors.New("boom")
	failing := func(int64) (io.ReadCloser, int64, error) { return nil, 0, boom }
	if _, err := NewSeekReader("test reader", 0, failing, nil); !errors.Is(err, boom) {
		t.Errorf("open error = %v", err)
	}
	mapped := errors.New("mapped")
	broken := func(int64) (io.ReadCloser, int64, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader("x"), errReader{boom})), 5, nil
	}
	r, _ = NewSeekReader("test reader", 0, broken, func(error) error { return mapped })
	if _, err := io.ReadAll(r); !errors.Is(err, mapped) {
		t.Errorf("body error = %v, want the driver's mapping", err)
	}
}

func TestRangeTotal(t *testing.T) {
	for _, tt := range []struct {
		cr          string
		pos, length int64
		want        int64
	}{
		{"bytes 10-99/100", 10, 90, 100},
		{"", 0, 42, 42},
		{"", 5, 37, 42},
		{"bytes 0-9/*", 0, 10, 10},
	} {
		if got := RangeTotal(tt.cr, tt.pos, tt.length); got != tt.want {
			t.Errorf("RangeTotal(%q, %d, %d) = %d, want %d", tt.cr, tt.pos, tt.length, got, tt.want)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
