package builtin

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/scan/scantest"
)

// fileBlobs serves layers from files, as the filesystem driver does.
type fileBlobs map[digest.Digest]string

func (fb fileBlobs) Open(_ context.Context, d digest.Digest, _ int64) (io.ReadCloser, error) {
	return os.Open(fb[d])
}

// BenchmarkExtractLarge extracts an image of SCAN_BENCH_MB MiB (default
// 256; the target image is 1024) of incompressible filler files,
// a dpkg status of 500 packages and 2,000 npm packages (node_modules
// package.json files and a package-lock.json), and reports the time and
// the process's peak resident memory (VmHWM).
func BenchmarkExtractLarge(b *testing.B) {
	mb := 256
	if v, err := strconv.Atoi(os.Getenv("SCAN_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	f, err := os.CreateTemp(b.TempDir(), "layer")
	if err != nil {
		b.Fatal(err)
	}
	h := digest.SHA256.Digester()
	zw, _ := gzip.NewWriterLevel(io.MultiWriter(f, h.Hash()), gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	add := func(name string, body []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	add("etc/os-release", []byte(scantest.DebianRelease))
	var deb [][3]string
	for i := range 500 {
		deb = append(deb, [3]string{fmt.Sprintf("lib%d", i), "1.0-1", ""})
	}
	add("var/lib/dpkg/status", scantest.DpkgStatus(deb...))
	var lock [][2]string
	for i := range 2000 {
		name := fmt.Sprintf("pkg%d", i)
		lock = append(lock, [2]string{name, "1.0.0"})
		add("app/node_modules/"+name+"/package.json", []byte(`{"name":"`+name+`","version":"1.0.0"}`))
	}
	add("app/package-lock.json", scantest.PackageLock(lock...))
	rng := rand.New(rand.NewSource(1))
	chunk := make([]byte, 4<<20)
	for i := range mb / 4 {
		rng.Read(chunk)
		add(fmt.Sprintf("data/blob%d.bin", i), chunk)
	}
	tw.Close()
	zw.Close()
	f.Close()
	l := h.Digest()
	x, err := New(fileBlobs{l: f.Name()}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM (Linux)
	b.ResetTimer()
	for range b.N {
		pkgs, err := x.Extract(context.Background(), []digest.Digest{l})
		if err != nil {
			b.Fatal(err)
		}
		if len(pkgs) < 2500 {
			b.Fatalf("%d packages, want at least 2,500", len(pkgs))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(mb), "MiB")
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
		}
	}
}
