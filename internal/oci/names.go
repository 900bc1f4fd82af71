package oci

import (
	"regexp"
	"strings"
)

// Limits from the spec: a repository name, in the form the registry sees it
// (without a hostname), is at most 255 characters in practice (Docker's limit
// for the full reference); a tag is at most 128 characters.
const (
	MaxNameLength = 255
	MaxTagLength  = 128
)

var (
	// nameComponent is one path component of a repository name:
	// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*  (distribution-spec "Pulling manifests").
	nameComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	tagPattern    = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidName reports whether name is a valid repository name: one or more
// components separated by "/", each matching the spec's component grammar.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for part := range strings.SplitSeq(name, "/") {
		if !nameComponent.MatchString(part) {
			return false
		}
	}
	return true
}

// ValidTag reports whether tag matches the spec's tag grammar.
func ValidTag(tag string) bool {
	return tagPattern.MatchString(tag)
}
