package builtin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/scantest"
)

type memBlobs map[digest.Digest][]byte

func (m memBlobs) Open(_ context.Context, d digest.Digest, _ int64) (io.ReadCloser, error) {
	b, ok := m[d]
	if !ok {
		return nil, errors.New("no such blob")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m memBlobs) add(b []byte) digest.Digest {
	d := digest.FromBytes(b)
	m[d] = b
	return d
}

type key struct{ eco, name, version, source, path string }

func keys(pkgs []scan.Package) map[key]digest.Digest {
	out := map[key]digest.Digest{}
	for _, p := range pkgs {
		out[key{p.Ecosystem, p.Name, p.Version, p.SourceName, p.Path}] = p.Layer
	}
	return out
}

func TestExtract(t *testing.T) {
	blobs := memBlobs{}
	goBin := scantest.GoBinary(t)
	alpine := blobs.add(scantest.Layer(t,
		scantest.File{Name: "etc/os-release", Body: []byte(scantest.AlpineRelease)},
		scantest.File{Name: "lib/apk/db/installed", Body: scantest.APKInstalled([3]string{"busybox", "1.36.1-r0", "busybox"}, [3]string{"libcrypto3", "3.3.0-r2", "openssl"})},
		scantest.File{Name: "app/package-lock.json", Body: scantest.PackageLock([2]string{"lodash", "4.17.20"})},
		scantest.File{Name: "old/package-lock.json", Body: scantest.PackageLock([2]string{"left-pad", "1.0.0"})},
	))
	apps := blobs.add(scantest.Layer(t,
		scantest.File{Name: "./usr/local/bin/hello", Body: goBin, Mode: 0o755},
		scantest.File{Name: "old/.wh.package-lock.json"},
		scantest.File{Name: "usr/lib/python3/site-packages/requests-2.30.0.dist-info/METADATA", Body: scantest.PythonMetadata("requests", "2.30.0")},
		scantest.File{Name: "opt/lib/jackson-databind-2.9.10.jar", Body: scantest.Jar(t, "com.fasterxml.jackson.core", "jackson-databind", "2.9.10")},
		scantest.File{Name: "lib/apk/db/installed", Body: scantest.APKInstalled([3]string{"busybox", "1.36.1-r2", "busybox"}, [3]string{"libcrypto3", "3.3.0-r2", "openssl"})},
	))
	x, err := New(blobs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := x.Extract(context.Background(), []digest.Digest{alpine, apps})
	if err != nil {
		t.Fatal(err)
	}
	got := keys(pkgs)
	want := map[key]digest.Digest{
		{"Alpine:v3.20", "busybox", "1.36.1-r2", "", "lib/apk/db/installed"}:                                          apps,
		{"Alpine:v3.20", "libcrypto3", "3.3.0-r2", "openssl", "lib/apk/db/installed"}:                                 apps,
		{"npm", "lodash", "4.17.20", "", "app/package-lock.json"}:                                                     alpine,
		{"PyPI", "requests", "2.30.0", "", "usr/lib/python3/site-packages/requests-2.30.0.dist-info/METADATA"}:        apps,
		{"Maven", "com.fasterxml.jackson.core:jackson-databind", "2.9.10", "", "opt/lib/jackson-databind-2.9.10.jar"}: apps,
		{"Go", "golang.org/x/sync", "0.24.0", "", "usr/local/bin/hello"}:                                              apps,
		{"Go", "go", runtime.Version()[2:], "stdlib", "usr/local/bin/hello"}:                                          apps,
	}
	for k, l := range want {
		if got[k] != l {
			t.Errorf("package %+v: layer %q, want %q", k, got[k], l)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k.eco != "Go" { // the Go binary also reports its main module and stdlib
			t.Errorf("unexpected package %+v", k)
		}
	}
	t.Logf("got %v", got)
}

func TestExtractBudget(t *testing.T) {
	blobs := memBlobs{}
	l := blobs.add(scantest.Layer(t,
		scantest.File{Name: "usr/bin/big", Body: bytes.Repeat([]byte("x"), 4096), Mode: 0o755},
		scantest.File{Name: "etc/os-release", Body: []byte(scantest.AlpineRelease)},
		scantest.File{Name: "lib/apk/db/installed", Body: scantest.APKInstalled([3]string{"busybox", "1.36.1-r0", "busybox"})}))
	x, err := New(blobs, Options{MaxBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := x.Extract(context.Background(), []digest.Digest{l})
	if err != nil || len(pkgs) != 1 || pkgs[0].Name != "busybox" {
		t.Fatalf("Extract with a file over the budget = %+v, %v; want busybox, the big file left out", pkgs, err)
	}
}
