package scan

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestOpenVEX(t *testing.T) {
	image := digest.FromString("img")
	doc := []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[
	 {"vulnerability":{"name":"CVE-1","aliases":["GHSA-1"]},"status":"not_affected"},
	 {"vulnerability":"CVE-2","products":["pkg:npm/lodash@4.17.20"],"status":"fixed"},
	 {"vulnerability":{"name":"CVE-3"},"products":[{"@id":"pkg:npm/other@1.0.0"}],"status":"not_affected"},
	 {"vulnerability":{"name":"CVE-4"},"status":"affected"},
	 {"vulnerability":{"name":"CVE-5"},"products":[{"@id":"` + image.String() + `"}],"status":"not_affected"}]}`)
	sts, err := ParseOpenVEX(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 6 { // CVE-1 and its alias, CVE-2..5
		t.Fatalf("statements = %+v", sts)
	}
	fs := []Finding{
		{ID: "GHSA-1", Package: "a", Installed: "1"},
		{ID: "CVE-2", Package: "lodash", Installed: "4.17.20"},
		{ID: "CVE-3", Package: "lodash", Installed: "4.17.20"},
		{ID: "CVE-4", Package: "lodash", Installed: "4.17.20"},
		{ID: "X", Aliases: []string{"CVE-5"}, Package: "b", Installed: "2"},
	}
	applyVEX(fs, sts, image, map[string]string{"lodash@4.17.20": "pkg:npm/lodash@4.17.20"})
	want := []string{VEXNotAffected, VEXFixed, "", "", VEXNotAffected}
	for i, f := range fs {
		if f.VEX != want[i] {
			t.Errorf("%s: VEX %q, want %q", f.ID, f.VEX, want[i])
		}
	}
	for _, bad := range []string{`{}`, `{"@context":"https://example.com"}`, `[`} {
		if _, err := ParseOpenVEX([]byte(bad)); err == nil {
			t.Errorf("ParseOpenVEX(%s): no error", bad)
		}
	}
}

// FuzzOpenVEX: the OpenVEX parser never panics, and what it accepts
// applies without panicking.
func FuzzOpenVEX(f *testing.F) {
	f.Add([]byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"pkg:oci/x"}],"status":"not_affected"}]}`))
	f.Add([]byte(`{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"CVE-1","products":["p"],"status":"fixed"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sts, err := ParseOpenVEX(data)
		if err != nil {
			return
		}
		for _, st := range sts {
			if st.Vulnerability == "" {
				t.Fatal("a statement without a vulnerability")
			}
		}
		fs := []Finding{{ID: "CVE-1", Package: "p", Installed: "1"}}
		applyVEX(fs, sts, digest.FromString("x"), map[string]string{"p@1": "pkg:npm/p@1"})
	})
}
