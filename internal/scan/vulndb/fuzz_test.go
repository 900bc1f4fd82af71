package vulndb

import (
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/scantest"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// FuzzDecode: the OSV decoder never panics, and whatever it accepts can
// be indexed and matched.
func FuzzDecode(f *testing.F) {
	f.Add(scantest.Advisory{ID: "CVE-1", Ecosystem: "Debian:12", Name: "x", Fixed: "1:2~rc1-1", CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}.JSON())
	f.Add([]byte(`{"id":"X","withdrawn":"2020-01-01T00:00:00Z","affected":[]}`))
	f.Add([]byte(`{"id":"Y","affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["1.0.0"],"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"limit":"2"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			return
		}
		if a.ID == "" {
			t.Fatal("decoded an advisory without id")
		}
		ix := NewIndex("v", testTime, []Advisory{a})
		for _, af := range a.Affected {
			ix.Match([]scan.Package{{Ecosystem: af.Ecosystem, Name: af.Name, Version: "1.0.0"}})
		}
	})
}

// FuzzCVSS3Score: scores are between 0 and 10 or an error.
func FuzzCVSS3Score(f *testing.F) {
	f.Add("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	f.Fuzz(func(t *testing.T, v string) {
		s, err := CVSS3Score(v)
		if err == nil && (s < 0 || s > 10) {
			t.Fatalf("CVSS3Score(%q) = %v", v, s)
		}
	})
}
