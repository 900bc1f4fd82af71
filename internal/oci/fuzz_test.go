package oci

import (
	"strings"
	"testing"
)

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a", "library/nginx", "a/../b", "A", "a__b/c-d.e", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidName(s) {
			return
		}
		if strings.Contains(s, "..") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") ||
			strings.ToLower(s) != s || len(s) > MaxNameLength {
			t.Fatalf("accepted invalid name %q", s)
		}
	})
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("a", 64))
	f.Add("sha512:" + strings.Repeat("b", 128))
	f.Add("sha256:xyz")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			return
		}
		if d.String() != s || !SupportedAlgorithm(d.Algorithm()) || d.Validate() != nil {
			t.Fatalf("accepted %q as %q", s, d)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-9", int64(100))
	f.Add("bytes=-5", int64(10))
	f.Add("bytes=5-", int64(0))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		r, ok, err := ParseRange(h, size)
		if ok && err == nil && (r.Start < 0 || r.End >= size || r.Start > r.End) {
			t.Fatalf("ParseRange(%q, %d) = %v out of bounds", h, size, r)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("0-99")
	f.Add("bytes 1-2/3")
	f.Fuzz(func(t *testing.T, h string) {
		r, err := ParseContentRange(h)
		if err == nil && (r.Start < 0 || r.End < r.Start) {
			t.Fatalf("ParseContentRange(%q) = %v", h, r)
		}
	})
}
