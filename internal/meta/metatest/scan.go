package metatest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var scanTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"ScanPackages", testScanPackages},
	{"ScanResults", testScanResults},
	{"ScanPolicies", testScanPolicies},
}

func testScanPackages(t *testing.T, s meta.Store) {
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	if _, err := s.GetScanPackages(ctx, d1); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("GetScanPackages of nothing: %v, want ErrNotFound", err)
	}
	at := time.Unix(1700000000, 123).UTC()
	for _, p := range []meta.ScanPackages{
		{Digest: d1, Extractor: "old", ExtractedAt: at, Data: []byte("x")},
		{Digest: d1, Extractor: "scalibr", ExtractedAt: at, Data: []byte(`[{"name":"a"}]`)},
		{Digest: d2, Extractor: "scalibr", ExtractedAt: at, Data: []byte(`[]`)},
	} {
		if err := s.PutScanPackages(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetScanPackages(ctx, d1)
	if err != nil {
		t.Fatal(err)
	}
	want := meta.ScanPackages{Digest: d1, Extractor: "scalibr", ExtractedAt: at, Data: []byte(`[{"name":"a"}]`)}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("GetScanPackages = %+v, want %+v", got, want)
	}
	all, err := s.ScanPackageDigests(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	wantAll := []digest.Digest{d1, d2}
	if d2 < d1 {
		wantAll = []digest.Digest{d2, d1}
	}
	if !reflect.DeepEqual(wantAll, all) {
		t.Errorf("ScanPackageDigests = %+v, want %+v", all, wantAll)
	}
	rest, err := s.ScanPackageDigests(ctx, wantAll[0], 10)
	if err != nil || len(rest) != 1 || rest[0] != wantAll[1] {
		t.Errorf("ScanPackageDigests after %s = %v, %v", wantAll[0], rest, err)
	}
}

func testScanResults(t *testing.T, s meta.Store) {
	d := digest.FromString("image")
	if _, err := s.GetScanResult(ctx, d, false); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("GetScanResult of nothing: %v, want ErrNotFound", err)
	}
	r := meta.ScanResult{Digest: d, Scanner: "builtin", DBVersion: "v1", Status: "success", Severity: 4, MaxCVSS: 9.8,
		Worst: "CVE-1", Findings: 3, ScannedAt: time.Unix(1700000000, 0).UTC(), Summary: []byte("s"), Report: []byte("r")}
	if err := s.PutScanResult(ctx, meta.ScanResult{Digest: d, Scanner: "builtin", DBVersion: "v0", Status: "failed",
		Error: "boom", ScannedAt: time.Unix(1, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutScanResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetScanResult(ctx, d, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, got) {
		t.Errorf("GetScanResult with report = %+v, want %+v", got, r)
	}
	got, err = s.GetScanResult(ctx, d, false)
	if err != nil {
		t.Fatal(err)
	}
	r.Report = nil
	if !reflect.DeepEqual(r, got) {
		t.Errorf("GetScanResult summary = %+v, want %+v", got, r)
	}
}

func testScanPolicies(t *testing.T, s meta.Store) {
	if _, err := s.ScanPolicy(ctx, "team"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("ScanPolicy of nothing: %v, want ErrNotFound", err)
	}
	for _, p := range []struct{ project, data string }{{"team", "a"}, {"", "sys"}, {"team", "b"}} {
		if err := s.PutScanPolicy(ctx, p.project, []byte(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	for project, want := range map[string]string{"team": "b", "": "sys"} {
		got, err := s.ScanPolicy(ctx, project)
		if err != nil || string(got) != want {
			t.Errorf("ScanPolicy(%q) = %q, %v; want %q", project, got, err, want)
		}
	}
}
