package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/scan/scantest"
)

// wantDBs keeps package databases and os-release, as the extractors do.
func wantDBs(p string, _ fs.FileInfo) bool {
	return strings.HasSuffix(p, "/installed") || strings.HasSuffix(p, "/status") || strings.HasSuffix(p, "os-release")
}

// FuzzLayer feeds arbitrary layer bytes (gzip, zstd or plain tar) to the
// layer reader: it never panics, never writes outside its tree, and
// stays within its budget.
func FuzzLayer(f *testing.F) {
	f.Add(scantest.Layer(f, scantest.File{Name: "lib/apk/db/installed", Body: scantest.APKInstalled([3]string{"a", "1-r0", "a"})},
		scantest.File{Name: "../../etc/os-release", Body: []byte(scantest.AlpineRelease)}, scantest.File{Name: "x/.wh..wh..opq"}))
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	tw.WriteHeader(&tar.Header{Name: "/var/lib/dpkg/status", Size: 3, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write([]byte("abc"))
	tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/.wh.status", Typeflag: tar.TypeReg})
	tw.Close()
	f.Add(plain.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "tree")
		if err := os.Mkdir(root, 0o700); err != nil {
			t.Fatal(err)
		}
		tr := NewTree(root, 1<<20, 1<<20, wantDBs)
		tr.Apply(context.Background(), bytes.NewReader(data), digest.FromBytes(data))
		if tr.Used() < 0 || tr.Used() > 1<<20 {
			t.Fatalf("used %d of a 1 MiB budget", tr.Used())
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Fatalf("files written beside the tree: %v", entries)
		}
		for p := range tr.Files {
			if strings.HasPrefix(p, "/") || strings.Contains("/"+p+"/", "/../") {
				t.Fatalf("kept path %q escapes the tree", p)
			}
		}
	})
}

// TestWhiteouts: upper files replace lower ones, a whiteout removes a
// file, an opaque directory removes what was under it, and the budget is
// kept.
func TestWhiteouts(t *testing.T) {
	ctx := context.Background()
	tr := NewTree(t.TempDir(), 100, 50, wantDBs)
	l1 := scantest.Layer(t, scantest.File{Name: "a/installed", Body: []byte("1111")}, scantest.File{Name: "b/status", Body: []byte("22")},
		scantest.File{Name: "c/d/status", Body: []byte("333")}, scantest.File{Name: "other", Body: []byte("x")})
	l2 := scantest.Layer(t, scantest.File{Name: "a/installed", Body: []byte("44")}, scantest.File{Name: "b/.wh.status"},
		scantest.File{Name: "c/.wh..wh..opq"}, scantest.File{Name: "e/status", Body: bytes.Repeat([]byte("x"), 60)})
	for _, l := range [][]byte{l1, l2} {
		if err := tr.Apply(ctx, bytes.NewReader(l), digest.FromBytes(l)); err != nil {
			t.Fatal(err)
		}
	}
	if len(tr.Files) != 1 || tr.Files["a/installed"].Layer != digest.FromBytes(l2) || tr.Used() != 2 {
		t.Fatalf("files = %v, used %d; want only a/installed from the upper layer", tr.Files, tr.Used())
	}
	if b, err := os.ReadFile(filepath.Join(tr.root, "a", "installed")); err != nil || string(b) != "44" {
		t.Fatalf("a/installed = %q, %v", b, err)
	}
	big := scantest.Layer(t, scantest.File{Name: "f/status", Body: bytes.Repeat([]byte("x"), 40)}, scantest.File{Name: "g/status", Body: bytes.Repeat([]byte("x"), 40)},
		scantest.File{Name: "h/status", Body: bytes.Repeat([]byte("x"), 40)})
	if err := tr.Apply(ctx, bytes.NewReader(big), digest.FromBytes(big)); err != nil || tr.Skipped != 1 || tr.Used() != 82 {
		t.Fatalf("over the budget: %v, skipped %d, used %d; want the third file left out", err, tr.Skipped, tr.Used())
	}
}
