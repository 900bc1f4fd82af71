package vulndb

import (
	"testing"

	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/scantest"
)

func index(t *testing.T, advs ...scantest.Advisory) *Index {
	t.Helper()
	var out []Advisory
	for _, a := range advs {
		d, err := Decode(a.JSON())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return NewIndex("v1", testTime, out)
}

// TestMatchVersionOrder checks each ecosystem's own version order,
// including the cases string order gets wrong.
func TestMatchVersionOrder(t *testing.T) {
	tests := []struct {
		name      string
		adv       scantest.Advisory
		pkg       scan.Package
		hit       bool
		wantFixed string
	}{
		{"dpkg epoch above", scantest.Advisory{Ecosystem: "Debian:12", Name: "openssl", Fixed: "1:1.2.3-1"},
			scan.Package{Ecosystem: "Debian:12", Name: "libssl3", SourceName: "openssl", SourceVersion: "1.2.9-1", Version: "1.2.9-1"}, true, "1:1.2.3-1"},
		{"dpkg tilde sorts first", scantest.Advisory{Ecosystem: "Debian:12", Name: "glibc", Fixed: "2.36-9~deb12u1"},
			scan.Package{Ecosystem: "Debian:12", Name: "glibc", Version: "2.36-9"}, false, ""},
		{"dpkg below tilde fix", scantest.Advisory{Ecosystem: "Debian:12", Name: "glibc", Fixed: "2.36-9~deb12u1"},
			scan.Package{Ecosystem: "Debian:12", Name: "glibc", Version: "2.36-8"}, true, "2.36-9~deb12u1"},
		{"dpkg other release", scantest.Advisory{Ecosystem: "Debian:11", Name: "glibc", Fixed: "2.40-1"},
			scan.Package{Ecosystem: "Debian:12", Name: "glibc", Version: "2.36-8"}, false, ""},
		{"apk -r numeric", scantest.Advisory{Ecosystem: "Alpine:v3.20", Name: "busybox", Fixed: "1.36.1-r10"},
			scan.Package{Ecosystem: "Alpine:v3.20", Name: "busybox", Version: "1.36.1-r9"}, true, "1.36.1-r10"},
		{"apk fixed release", scantest.Advisory{Ecosystem: "Alpine:v3.20", Name: "busybox", Fixed: "1.36.1-r1"},
			scan.Package{Ecosystem: "Alpine:v3.20", Name: "busybox", Version: "1.36.1-r2"}, false, ""},
		{"apk suffix _rc below release", scantest.Advisory{Ecosystem: "Alpine:v3.20", Name: "curl", Fixed: "8.9.0-r0"},
			scan.Package{Ecosystem: "Alpine:v3.20", Name: "curl", Version: "8.9.0_rc1-r0"}, true, "8.9.0-r0"},
		{"apk origin name", scantest.Advisory{Ecosystem: "Alpine:v3.20", Name: "openssl", Fixed: "3.3.2-r0"},
			scan.Package{Ecosystem: "Alpine:v3.20", Name: "libcrypto3", SourceName: "openssl", Version: "3.3.0-r2"}, true, "3.3.2-r0"},
		{"rpm", scantest.Advisory{Ecosystem: "Red Hat", Name: "bash", Fixed: "0:5.1.8-9.el9"},
			scan.Package{Ecosystem: "Red Hat", Name: "bash", Version: "5.1.8-6.el9"}, true, "0:5.1.8-9.el9"},
		{"semver not string order", scantest.Advisory{Ecosystem: "npm", Name: "lodash", Fixed: "4.10.0"},
			scan.Package{Ecosystem: "npm", Name: "lodash", Version: "4.9.0"}, true, "4.10.0"},
		{"semver prerelease", scantest.Advisory{Ecosystem: "npm", Name: "lodash", Introduced: "4.17.0", Fixed: "4.17.21"},
			scan.Package{Ecosystem: "npm", Name: "lodash", Version: "4.17.21-beta.1"}, true, "4.17.21"},
		{"semver below introduced", scantest.Advisory{Ecosystem: "npm", Name: "lodash", Introduced: "4.17.0", Fixed: "4.17.21"},
			scan.Package{Ecosystem: "npm", Name: "lodash", Version: "4.16.6"}, false, ""},
		{"pep440 rc before release", scantest.Advisory{Ecosystem: "PyPI", Name: "requests", Fixed: "2.31.0"},
			scan.Package{Ecosystem: "PyPI", Name: "Requests", Version: "2.31.0rc1"}, true, "2.31.0"},
		{"pep440 post release", scantest.Advisory{Ecosystem: "PyPI", Name: "requests", Fixed: "2.31.0"},
			scan.Package{Ecosystem: "PyPI", Name: "requests", Version: "2.31.0.post1"}, false, ""},
		{"go module", scantest.Advisory{Ecosystem: "Go", Name: "golang.org/x/sync", Fixed: "0.25.0"},
			scan.Package{Ecosystem: "Go", Name: "golang.org/x/sync", Version: "0.24.0"}, true, "0.25.0"},
		{"maven qualifier", scantest.Advisory{Ecosystem: "Maven", Name: "com.fasterxml.jackson.core:jackson-databind", Fixed: "2.9.10.1"},
			scan.Package{Ecosystem: "Maven", Name: "com.fasterxml.jackson.core:jackson-databind", Version: "2.9.10"}, true, "2.9.10.1"},
		{"last_affected inclusive", scantest.Advisory{Ecosystem: "crates.io", Name: "smallvec", LastAffected: "1.6.0"},
			scan.Package{Ecosystem: "crates.io", Name: "smallvec", Version: "1.6.0"}, true, ""},
		{"last_affected above", scantest.Advisory{Ecosystem: "crates.io", Name: "smallvec", LastAffected: "1.6.0"},
			scan.Package{Ecosystem: "crates.io", Name: "smallvec", Version: "1.6.1"}, false, ""},
		{"rubygems", scantest.Advisory{Ecosystem: "RubyGems", Name: "rack", Fixed: "2.2.8.1"},
			scan.Package{Ecosystem: "RubyGems", Name: "rack", Version: "2.2.8"}, true, "2.2.8.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.adv.ID = "TEST-1"
			got := index(t, tc.adv).Match([]scan.Package{tc.pkg})
			if !tc.hit {
				if len(got) != 0 {
					t.Fatalf("Match = %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || got[0].ID != "TEST-1" || got[0].Fixed != tc.wantFixed || got[0].Installed != tc.pkg.Version || got[0].Package != tc.pkg.Name {
				t.Fatalf("Match = %+v, want TEST-1 fixed in %q", got, tc.wantFixed)
			}
		})
	}
}

func TestMatchSeverityAndOrder(t *testing.T) {
	ix := index(t,
		scantest.Advisory{ID: "GHSA-low", Ecosystem: "npm", Name: "a", Fixed: "2.0.0", Severity: "LOW"},
		scantest.Advisory{ID: "CVE-crit", Aliases: []string{"GHSA-x"}, Ecosystem: "npm", Name: "a", Fixed: "3.0.0",
			CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		scantest.Advisory{ID: "CVE-none", Ecosystem: "npm", Name: "b", Fixed: "1.0.0"},
	)
	got := ix.Match([]scan.Package{{Ecosystem: "npm", Name: "a", Version: "1.0.0", Layer: "sha256:l"}, {Ecosystem: "npm", Name: "b", Version: "0.1.0"}})
	if len(got) != 3 {
		t.Fatalf("Match = %+v, want 3 findings", got)
	}
	if got[0].ID != "CVE-crit" || got[0].Severity != scan.SeverityCritical || got[0].CVSSScore != 9.8 || got[0].Layer != "sha256:l" || got[0].Aliases[0] != "GHSA-x" {
		t.Errorf("worst = %+v, want CVE-crit critical 9.8 from layer sha256:l", got[0])
	}
	if got[1].ID != "GHSA-low" || got[1].Severity != scan.SeverityLow || got[2].ID != "CVE-none" || got[2].Severity != scan.SeverityUnknown {
		t.Errorf("order = %s, %s; want GHSA-low (low), CVE-none (unknown)", got[1].ID, got[2].ID)
	}
}

func TestCVSS3Score(t *testing.T) {
	tests := []struct {
		vector string
		want   float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4},
		{"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0},
	}
	for _, tc := range tests {
		got, err := CVSS3Score(tc.vector)
		if err != nil || got != tc.want {
			t.Errorf("CVSS3Score(%s) = %v, %v; want %v", tc.vector, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "CVSS:2.0/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AV:N/PR:N/UI:N/S:U/C:H/I:H/A:H"} {
		if _, err := CVSS3Score(bad); err == nil {
			t.Errorf("CVSS3Score(%q): no error", bad)
		}
	}
}
