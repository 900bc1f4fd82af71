package oci

import (
	"regexp"
	"strings"
	"testing"
)

// The spec's expressions, the oracle for the hand-written scanners.
var (
	specComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	specTag       = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

func specName(s string) bool {
	if s == "" || len(s) > MaxNameLength {
		return false
	}
	for part := range strings.SplitSeq(s, "/") {
		if !specComponent.MatchString(part) {
			return false
		}
	}
	return true
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a", "library/nginx", "a/../b", "A", "a__b/c-d.e", "", "a___b", "a--b", "a.-b", "a_", "_a", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ValidName(s)
		if want := specName(s); got != want {
			t.Fatalf("ValidName(%q) = %v, the spec's expression says %v", s, got, want)
		}
		if got && (strings.Contains(s, "..") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") ||
			strings.ToLower(s) != s) {
			t.Fatalf("accepted invalid name %q", s)
		}
	})
}

func FuzzValidTag(f *testing.F) {
	for _, s := range []string{"latest", "v1.2.3", "_x", ".x", "-x", "", "a:b", strings.Repeat("a", 128), strings.Repeat("a", 129), "ä"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidTag(s), specTag.MatchString(s); got != want {
			t.Fatalf("ValidTag(%q) = %v, the spec's expression says %v", s, got, want)
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
