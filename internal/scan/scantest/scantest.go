// Package scantest builds the fixtures of the scanning tests: image
// layers with known package databases, a Go binary with build info, a
// jar, and a small OSV database.
package scantest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// File is one entry of a layer.
type File struct {
	Name string
	Body []byte
	Mode int64 // 0: 0644
}

// Layer returns a gzip-compressed tar of files.
func Layer(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: mode, Size: int64(len(f.Body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// AlpineRelease is an Alpine 3.20 /etc/os-release.
const AlpineRelease = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"

// DebianRelease is a Debian 12 /etc/os-release.
const DebianRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

// APKInstalled is an /lib/apk/db/installed with the given name, version
// and origin triples.
func APKInstalled(pkgs ...[3]string) []byte {
	var b bytes.Buffer
	for _, p := range pkgs {
		b.WriteString("C:Q1abc=\nP:" + p[0] + "\nV:" + p[1] + "\nA:x86_64\nS:1000\nI:2000\nT:test\nL:MIT\no:" + p[2] + "\n\n")
	}
	return b.Bytes()
}

// DpkgStatus is a /var/lib/dpkg/status with the given name, version and
// source ("" : none) triples.
func DpkgStatus(pkgs ...[3]string) []byte {
	var b bytes.Buffer
	for _, p := range pkgs {
		b.WriteString("Package: " + p[0] + "\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: " + p[1] + "\n")
		if p[2] != "" {
			b.WriteString("Source: " + p[2] + "\n")
		}
		b.WriteString("Description: test\n\n")
	}
	return b.Bytes()
}

// PackageLock is a lockfileVersion 3 package-lock.json of name→version.
func PackageLock(pkgs ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","version":"1.0.0"}`)
	for _, p := range pkgs {
		b.WriteString(`,"node_modules/` + p[0] + `":{"version":"` + p[1] + `","resolved":"https://registry.npmjs.org/x.tgz"}`)
	}
	b.WriteString("}}")
	return b.Bytes()
}

// PythonMetadata is a wheel's METADATA file.
func PythonMetadata(name, version string) []byte {
	return []byte("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: test\n")
}

// Jar returns a jar whose pom.properties names groupId:artifactId:version.
func Jar(t testing.TB, group, artifact, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("META-INF/maven/" + group + "/" + artifact + "/pom.properties")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("groupId=" + group + "\nartifactId=" + artifact + "\nversion=" + version + "\n"))
	w, err = zw.Create("META-INF/MANIFEST.MF")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Manifest-Version: 1.0\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// GoBinary builds a small Go program that depends on
// golang.org/x/sync@v0.24.0 (taken from the module cache, offline) and
// returns the executable.
func GoBinary(t testing.TB) []byte {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.22\n\nrequire golang.org/x/sync v0.24.0\n")
	write("main.go", "package main\n\nimport \"golang.org/x/sync/errgroup\"\n\nfunc main() { var g errgroup.Group; _ = g.Wait() }\n")
	cmd := exec.Command("go", "build", "-mod=mod", "-trimpath", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GONOSUMDB=*", "GOSUMDB=off", "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
