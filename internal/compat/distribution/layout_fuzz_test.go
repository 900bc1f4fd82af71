package distribution

import (
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

const hexA = "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"

// FuzzParseLinkPath: any path parses or fails without panicking; what is
// accepted names a valid repository, and a link's path rebuilt from what
// was parsed is the path itself.
func FuzzParseLinkPath(f *testing.F) {
	for _, s := range []string{
		"library/ubuntu/_layers/sha256/" + hexA + "/link",
		"a/_manifests/revisions/sha256/" + hexA + "/link",
		"a/b/c/_manifests/tags/v1.0/current/link",
		"a/_manifests/tags/latest/index/sha256/" + hexA + "/link",
		"a/_uploads/0c1d/data", "a/_uploads/0c1d/startedat", "_layers/x", "a//_layers", "A/_layers/sha256/x/link",
		"a/_manifests/tags/-bad/current/link", "a/_layers/sha512/" + hexA + "/link", "a/_manifests/revisions/sha256/../link",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		l, err := ParseLinkPath(p)
		if err != nil {
			return
		}
		if !oci.ValidName(l.Repo) || !strings.HasPrefix(p, l.Repo+"/_") {
			t.Fatalf("%q: repository %q", p, l.Repo)
		}
		var rebuilt string
		switch l.Kind {
		case LinkLayer:
			rebuilt = l.Repo + "/_layers/" + string(l.Digest.Algorithm()) + "/" + l.Digest.Encoded() + "/link"
		case LinkRevision:
			rebuilt = l.Repo + "/_manifests/revisions/" + string(l.Digest.Algorithm()) + "/" + l.Digest.Encoded() + "/link"
		case LinkTag:
			rebuilt = l.Repo + "/_manifests/tags/" + l.Tag + "/current/link"
		case LinkTagIndex:
			rebuilt = l.Repo + "/_manifests/tags/" + l.Tag + "/index/" + string(l.Digest.Algorithm()) + "/" + l.Digest.Encoded() + "/link"
		default:
			return
		}
		if rebuilt != p {
			t.Fatalf("%q parsed as %+v, which is %q", p, l, rebuilt)
		}
		if l.Tag != "" && !oci.ValidTag(l.Tag) {
			t.Fatalf("%q: tag %q", p, l.Tag)
		}
	})
}

// FuzzParseLinkFile: a link file's content parses to a valid digest or fails.
func FuzzParseLinkFile(f *testing.F) {
	for _, s := range []string{"sha256:" + hexA, "sha256:" + hexA + "\n", "", "sha256:", "md5:abc", " sha256:" + hexA + " "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseLinkFile(b)
		if err != nil {
			return
		}
		if _, err := oci.ParseDigest(d.String()); err != nil {
			t.Fatalf("%q gave invalid digest %q", b, d)
		}
	})
}
