package distribution

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/storage"
)

// Distribution's storage layout, as read for adoption (relative to its root
// directory or s3 prefix):
//
//	docker/registry/v2/blobs/<alg>/<xx>/<hex>/data                      every blob and manifest's bytes
//	docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link    the repository may read the blob
//	.../<name>/_manifests/revisions/<alg>/<hex>/link                    a manifest of the repository
//	.../<name>/_manifests/tags/<tag>/current/link                       what the tag points at (the link's content)
//	.../<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link             what the tag ever pointed at
//	.../<name>/_uploads/<uuid>/...                                      uploads in progress
//
// A link file holds a digest ("sha256:<hex>"). A repository name is the
// path up to its first element starting with "_" (name components never do).

// RepositoriesDir is the directory of every repository's links.
const RepositoriesDir = storage.DistributionRoot + "/repositories"

// LinkKind tells the kinds of files in a repository's directory apart.
type LinkKind int

// The kinds of repository files.
const (
	// LinkOther: a file adoption does not read (uploads, startedat, ...).
	LinkOther LinkKind = iota
	// LinkLayer: _layers/<alg>/<hex>/link.
	LinkLayer
	// LinkRevision: _manifests/revisions/<alg>/<hex>/link.
	LinkRevision
	// LinkTag: _manifests/tags/<tag>/current/link.
	LinkTag
	// LinkTagIndex: _manifests/tags/<tag>/index/<alg>/<hex>/link.
	LinkTagIndex
)

// Link is a parsed path of a file below RepositoriesDir.
type Link struct {
	Repo   string
	Kind   LinkKind
	Digest digest.Digest // layers, revisions, tag index entries
	Tag    string        // tags and tag index entries
}

// ErrLayout: a path or link file that does not follow Distribution's layout.
var ErrLayout = errors.New("not Distribution's storage layout")

// ParseLinkPath parses p, a path relative to RepositoriesDir. A file of a
// valid repository that adoption does not read is LinkOther; a path that
// names no valid repository, or a malformed link path, is ErrLayout.
func ParseLinkPath(p string) (Link, error) {
	parts := strings.Split(p, "/")
	i := 0
	for i < len(parts) && !strings.HasPrefix(parts[i], "_") {
		i++
	}
	if i == 0 || i == len(parts) {
		return Link{}, fmt.Errorf("%w: %q: no repository directory (_layers, _manifests, _uploads)", ErrLayout, p)
	}
	l := Link{Repo: strings.Join(parts[:i], "/")}
	if !oci.ValidName(l.Repo) {
		return Link{}, fmt.Errorf("%w: %q: invalid repository name %q", ErrLayout, p, l.Repo)
	}
	rest := parts[i:]
	bad := func(what string) (Link, error) {
		return Link{}, fmt.Errorf("%w: %q: %s", ErrLayout, p, what)
	}
	switch {
	case rest[0] == "_layers" && len(rest) == 4 && rest[3] == "link":
		d, err := pathDigest(rest[1], rest[2])
		if err != nil {
			return bad(err.Error())
		}
		l.Kind, l.Digest = LinkLayer, d
	case rest[0] == "_manifests" && len(rest) == 5 && rest[1] == "revisions" && rest[4] == "link":
		d, err := pathDigest(rest[2], rest[3])
		if err != nil {
			return bad(err.Error())
		}
		l.Kind, l.Digest = LinkRevision, d
	case rest[0] == "_manifests" && len(rest) >= 2 && rest[1] == "tags":
		if len(rest) < 5 || !oci.ValidTag(rest[2]) {
			return bad("malformed tag path")
		}
		l.Tag = rest[2]
		switch {
		case len(rest) == 5 && rest[3] == "current" && rest[4] == "link":
			l.Kind = LinkTag
		case len(rest) == 7 && rest[3] == "index" && rest[6] == "link":
			d, err := pathDigest(rest[4], rest[5])
			if err != nil {
				return bad(err.Error())
			}
			l.Kind, l.Digest = LinkTagIndex, d
		default:
			return bad("malformed tag path")
		}
	case rest[0] == "_layers" || rest[0] == "_manifests":
		return bad("malformed link path")
	default:
		l.Kind = LinkOther
	}
	return l, nil
}

// pathDigest is the digest a link's directory names (<alg>/<hex>).
func pathDigest(alg, hex string) (digest.Digest, error) {
	return oci.ParseDigest(alg + ":" + hex)
}

// ParseLinkFile parses the content of a link file: one digest, perhaps
// followed by a newline.
func ParseLinkFile(b []byte) (digest.Digest, error) {
	s := strings.TrimSpace(string(b))
	d, err := oci.ParseDigest(s)
	if err != nil {
		return "", fmt.Errorf("%w: link file %.80q: %v", ErrLayout, s, err)
	}
	return d, nil
}
