package oci

import "strings"

// Limits from the spec: a repository name, in the form the registry sees it
// (without a hostname), is at most 255 characters in practice (Docker's limit
// for the full reference); a tag is at most 128 characters.
const (
	MaxNameLength = 255
	MaxTagLength  = 128
)

// ValidName reports whether name is a valid repository name: one or more
// components separated by "/", each matching the spec's component grammar
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* ("Pulling manifests"). It runs on every
// request, so it scans bytes instead of running a regular expression (the
// tests check it against the spec's expression).
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for part := range strings.SplitSeq(name, "/") {
		if !validComponent(part) {
			return false
		}
	}
	return true
}

// validComponent matches one name component: runs of [a-z0-9] joined by
// ".", "_", "__" or one or more "-".
func validComponent(s string) bool {
	i := alnumRun(s, 0)
	if i == 0 {
		return false
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
		j := alnumRun(s, i)
		if j == i {
			return false // a separator must be followed by [a-z0-9]
		}
		i = j
	}
	return true
}

// alnumRun returns the index after the run of [a-z0-9] starting at i.
func alnumRun(s string, i int) int {
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9') {
		i++
	}
	return i
}

// ValidTag reports whether tag matches the spec's tag grammar
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func ValidTag(tag string) bool {
	if tag == "" || len(tag) > MaxTagLength || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
