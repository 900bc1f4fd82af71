package enginetest

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that notes the first Fatal or Skip instead of
// ending the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) {
	if r.fatal == "" && r.skip == "" {
		r.fatal = fmt.Sprint(args...)
	}
}

func (r *recorder) Skip(args ...any) {
	if r.fatal == "" && r.skip == "" {
		r.skip = fmt.Sprint(args...)
	}
}

// A missing engine skips, except in CI, where every scenario must run.
func TestBinary(t *testing.T) {
	for _, tc := range []struct {
		name, ci, bin   string
		found           bool
		wantFatal, skip bool
	}{
		{name: "present", ci: "true", bin: "sh", found: true},
		{name: "missing in CI", ci: "true", bin: "no-such-engine-berth", wantFatal: true},
		{name: "missing elsewhere", ci: "", bin: "no-such-engine-berth", skip: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			p := binary(r, tc.bin, t.TempDir())
			if (p != "") != tc.found || (r.fatal != "") != tc.wantFatal || (r.skip != "") != tc.skip {
				t.Errorf("binary(%q) with CI=%q = %q, fatal %q, skip %q", tc.bin, tc.ci, p, r.fatal, r.skip)
			}
		})
	}
}
