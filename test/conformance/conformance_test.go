package conformance

import (
	"os"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// TestConformance runs the suite against the registry named by
// CONFORMANCE_URL (for example http://127.0.0.1:5001), or against an
// in-process Berth when that is unset.
//
// CONFORMANCE_SKIP takes a comma-separated list of optional areas to leave
// out, for registries that predate them: sha512, referrers, multitag.
//
//	CONFORMANCE_URL=http://127.0.0.1:5001 go test ./test/conformance/
//	CONFORMANCE_URL=http://127.0.0.1:5001 CONFORMANCE_SKIP=sha512,referrers,multitag go test ./test/conformance/
func TestConformance(t *testing.T) {
	target := os.Getenv("CONFORMANCE_URL")
	if target == "" {
		target = apptest.Start(t, nil).URL
	}
	var opts Options
	for _, s := range strings.Split(os.Getenv("CONFORMANCE_SKIP"), ",") {
		switch strings.TrimSpace(strings.ToLower(s)) {
		case "":
		case "sha512":
			opts.SkipSHA512 = true
		case "referrers":
			opts.SkipReferrers = true
		case "multitag":
			opts.SkipMultiTag = true
		default:
			t.Fatalf("CONFORMANCE_SKIP: unknown area %q (known: sha512, referrers, multitag)", s)
		}
	}
	RunWithOptions(t, target, opts)
}
