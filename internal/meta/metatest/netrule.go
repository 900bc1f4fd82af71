package metatest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/meta"
)

// netRuleTests are the network rule cases of the suite.
var netRuleTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"NetworkRules", testNetworkRules},
}

func testNetworkRules(t *testing.T, s meta.Store) {
	if rs, err := s.NetworkRules(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("no rules yet: %v, %v", rs, err)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	a := meta.NetworkRule{Scope: "project:team", Pull: []string{"10.0.0.0/8", "192.0.2.1/32"}, Push: []string{"10.1.0.0/16"}, UpdatedAt: t0}
	b := meta.NetworkRule{Scope: "robot:robot$team+ci", Push: []string{"10.1.2.0/24"}, UpdatedAt: t0}
	for _, r := range []meta.NetworkRule{b, a} {
		if err := s.PutNetworkRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	b.Pull = []string{} // stored as an empty list
	got, err := s.NetworkRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]meta.NetworkRule{a, b}, got); d != "" {
		t.Fatalf("rules (-want +got):\n%s", d)
	}
	a.Pull, a.UpdatedAt = []string{"0.0.0.0/0"}, t0.Add(time.Hour)
	if err := s.PutNetworkRule(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNetworkRule(ctx, b.Scope); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNetworkRule(ctx, "project:none"); err != nil {
		t.Fatalf("deleting no rule: %v", err)
	}
	got, err = s.NetworkRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]meta.NetworkRule{a}, got); d != "" {
		t.Fatalf("after replace and delete (-want +got):\n%s", d)
	}
}
