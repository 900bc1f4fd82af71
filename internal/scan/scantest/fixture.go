package scantest

import "testing"

// The fixture image and database of the end-to-end tests: the image
// holds packages the database affects and others it does not (same
// version as the fix, another distribution release, a version above),
// so exactly four findings are expected (Expected).

// ImageLayers returns the fixture image's two layers.
func ImageLayers(t testing.TB) [][]byte {
	t.Helper()
	os := Layer(t,
		File{Name: "etc/os-release", Body: []byte(AlpineRelease)},
		File{Name: "lib/apk/db/installed", Body: APKInstalled(
			[3]string{"busybox", "1.36.1-r0", "busybox"},
			[3]string{"libcrypto3", "3.3.0-r2", "openssl"},
			[3]string{"zlib", "1.3.1-r1", "zlib"})},
	)
	app := Layer(t,
		File{Name: "app/package-lock.json", Body: PackageLock([2]string{"lodash", "4.17.20"}, [2]string{"left-pad", "1.3.0"})},
		File{Name: "usr/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA", Body: PythonMetadata("requests", "2.31.0")},
		File{Name: "opt/app/lib/jackson-databind-2.9.10.jar", Body: Jar(t, "com.fasterxml.jackson.core", "jackson-databind", "2.9.10")},
		File{Name: "usr/local/bin/hello", Body: GoBinary(t), Mode: 0o755},
	)
	return [][]byte{os, app}
}

// Advisories is the fixture database.
var Advisories = []Advisory{
	{ID: "ALPINE-TEST-busybox", Aliases: []string{"CVE-2099-0001"}, Summary: "busybox overflow", Ecosystem: "Alpine:v3.20", Name: "busybox",
		Fixed: "1.36.1-r10", CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
	{ID: "ALPINE-TEST-openssl", Ecosystem: "Alpine:v3.20", Name: "openssl", Fixed: "3.3.0-r2", Severity: "CRITICAL"},
	{ID: "ALPINE-TEST-zlib", Ecosystem: "Alpine:v3.19", Name: "zlib", Fixed: "1.3.1-r5", Severity: "HIGH"},
	{ID: "GHSA-test-lodash", Aliases: []string{"CVE-2099-0002"}, Ecosystem: "npm", Name: "lodash", Fixed: "4.17.21", Severity: "HIGH"},
	{ID: "PYSEC-TEST-requests", Ecosystem: "PyPI", Name: "requests", Fixed: "2.31.0", Severity: "MODERATE"},
	{ID: "GHSA-test-jackson", Ecosystem: "Maven", Name: "com.fasterxml.jackson.core:jackson-databind", Fixed: "2.9.10.1", Severity: "MODERATE"},
	{ID: "GO-TEST-sync", Ecosystem: "Go", Name: "golang.org/x/sync", Introduced: "0.20.0", Fixed: "0.25.0", Severity: "LOW"},
}

// Finding is what the tests compare of a finding.
type Finding struct{ ID, Package, Installed, Fixed, Severity string }

// Expected are the fixture image's findings, worst first.
var Expected = []Finding{
	{"ALPINE-TEST-busybox", "busybox", "1.36.1-r0", "1.36.1-r10", "critical"},
	{"GHSA-test-lodash", "lodash", "4.17.20", "4.17.21", "high"},
	{"GHSA-test-jackson", "com.fasterxml.jackson.core:jackson-databind", "2.9.10", "2.9.10.1", "medium"},
	{"GO-TEST-sync", "golang.org/x/sync", "0.24.0", "0.25.0", "low"},
}
