package oci

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteRange is an inclusive byte range [Start, End].
type ByteRange struct {
	Start, End int64
}

// Length is the number of bytes in the range.
func (r ByteRange) Length() int64 { return r.End - r.Start + 1 }

// ParseRange parses a single-range HTTP Range header ("bytes=a-b", "bytes=a-"
// or "bytes=-n") against a resource of the given size. ok is false when the
// header should be ignored (not a bytes range, or several ranges, which Berth
// answers with the whole body as RFC 9110 allows). An error means the range
// cannot be satisfied (416).
func ParseRange(header string, size int64) (r ByteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return ByteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return ByteRange{}, false, nil
	}
	switch {
	case first == "": // suffix range: the last n bytes
		n, perr := parseOffset(last)
		if perr != nil {
			return ByteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return ByteRange{}, true, fmt.Errorf("%w: empty suffix range", ErrRangeInvalid)
		}
		n = min(n, size)
		return ByteRange{Start: size - n, End: size - 1}, true, nil
	default:
		start, perr := parseOffset(first)
		if perr != nil {
			return ByteRange{}, false, nil
		}
		end := size - 1
		if last != "" {
			if end, perr = parseOffset(last); perr != nil || end < start {
				return ByteRange{}, false, nil
			}
		}
		if start >= size {
			return ByteRange{}, true, fmt.Errorf("%w: start %d beyond size %d", ErrRangeInvalid, start, size)
		}
		return ByteRange{Start: start, End: min(end, size-1)}, true, nil
	}
}

// ParseContentRange parses the Content-Range header of a chunked upload
// PATCH: "<start>-<end>" as the spec writes it; "bytes=" or "bytes " prefixes
// and a trailing "/<size>" are tolerated because some clients send them.
func ParseContentRange(header string) (ByteRange, error) {
	s := strings.TrimSpace(header)
	s = strings.TrimPrefix(s, "bytes=")
	s = strings.TrimPrefix(s, "bytes ")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	first, last, found := strings.Cut(s, "-")
	if !found {
		return ByteRange{}, fmt.Errorf("%w: %q", ErrRangeInvalid, header)
	}
	start, err1 := parseOffset(first)
	end, err2 := parseOffset(last)
	if err1 != nil || err2 != nil || end < start {
		return ByteRange{}, fmt.Errorf("%w: %q", ErrRangeInvalid, header)
	}
	return ByteRange{Start: start, End: end}, nil
}

// parseOffset parses a non-negative decimal byte offset.
func parseOffset(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, ErrRangeInvalid
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrRangeInvalid
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
