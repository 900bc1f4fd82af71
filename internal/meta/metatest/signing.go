package metatest

import (
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// signingTests exercise meta.SigningStore.
var signingTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"SigningRules", testSigningRules},
	{"TrustMaterials", testTrustMaterials},
	{"SignatureResults", testSignatureResults},
	{"IndexesListing", testIndexesListing},
}

func signingVersion(t *testing.T, s meta.Store, project string) int64 {
	t.Helper()
	v, err := s.SigningVersion(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testSigningRules(t *testing.T, s meta.Store) {
	if v := signingVersion(t, s, "p"); v != 0 {
		t.Fatalf("version of a project without rules = %d", v)
	}
	r1, err := s.AddSigningRule(ctx, meta.SigningRule{Project: "p", Repositories: "**", Mode: "enforce", Spec: `{"a":1}`})
	if err != nil || r1.ID == 0 || r1.CreatedAt.IsZero() {
		t.Fatalf("AddSigningRule = %+v, %v", r1, err)
	}
	v1 := signingVersion(t, s, "p")
	if v1 == 0 {
		t.Fatal("adding a rule did not change the version")
	}
	r2, _ := s.AddSigningRule(ctx, meta.SigningRule{Project: "p", Repositories: "app", Mode: "audit", Spec: `{}`})
	s.AddSigningRule(ctx, meta.SigningRule{Project: "other", Repositories: "**", Mode: "audit", Spec: `{}`})
	rules, err := s.SigningRules(ctx, "p")
	if err != nil || len(rules) != 2 || rules[0].ID != r1.ID || rules[0].Spec != `{"a":1}` || rules[1].Mode != "audit" {
		t.Fatalf("SigningRules = %+v, %v", rules, err)
	}
	v2 := signingVersion(t, s, "p")
	r2.Mode = "enforce"
	if err := s.UpdateSigningRule(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if v := signingVersion(t, s, "p"); v <= v2 {
		t.Fatalf("update left the version at %d (was %d)", v, v2)
	}
	if err := s.UpdateSigningRule(ctx, meta.SigningRule{ID: r2.ID, Project: "other", Mode: "audit"}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("update through another project = %v", err)
	}
	if err := s.DeleteSigningRule(ctx, "other", r1.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete through another project = %v", err)
	}
	v3 := signingVersion(t, s, "p")
	if err := s.DeleteSigningRule(ctx, "p", r1.ID); err != nil {
		t.Fatal(err)
	}
	if v := signingVersion(t, s, "p"); v <= v3 {
		t.Fatalf("delete left the version at %d (was %d)", v, v3)
	}
	if rules, _ := s.SigningRules(ctx, "p"); len(rules) != 1 || rules[0].Mode != "enforce" {
		t.Fatalf("after delete = %+v", rules)
	}
}

func testTrustMaterials(t *testing.T, s meta.Store) {
	m, err := s.AddTrustMaterial(ctx, meta.TrustMaterial{Project: "p", Name: "release", Kind: "cosign-key", Data: "PEM"})
	if err != nil || m.ID == 0 {
		t.Fatalf("AddTrustMaterial = %+v, %v", m, err)
	}
	v := signingVersion(t, s, "p")
	if v == 0 {
		t.Fatal("adding a key did not change the version")
	}
	if _, err := s.AddTrustMaterial(ctx, meta.TrustMaterial{Project: "p", Name: "release", Kind: "cosign-key", Data: "X"}); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("second material of the same name = %v", err)
	}
	if _, err := s.AddTrustMaterial(ctx, meta.TrustMaterial{Project: "q", Name: "release", Kind: "cosign-key", Data: "Q"}); err != nil {
		t.Fatalf("same name in another project = %v", err)
	}
	ms, err := s.TrustMaterials(ctx, "p")
	if err != nil || len(ms) != 1 || ms[0].Data != "PEM" || ms[0].Kind != "cosign-key" || ms[0].Name != "release" {
		t.Fatalf("TrustMaterials = %+v, %v", ms, err)
	}
	if err := s.DeleteTrustMaterial(ctx, "q", m.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete through another project = %v", err)
	}
	if err := s.DeleteTrustMaterial(ctx, "p", m.ID); err != nil {
		t.Fatal(err)
	}
	if got := signingVersion(t, s, "p"); got <= v {
		t.Fatalf("removing a key left the version at %d", got)
	}
	if ms, _ := s.TrustMaterials(ctx, "p"); len(ms) != 0 {
		t.Fatalf("after delete = %+v", ms)
	}
}

func testSignatureResults(t *testing.T, s meta.Store) {
	d := dg("image")
	v, _, found, err := s.SignatureCheck(ctx, "p", "p/app", d)
	if err != nil || v != 0 || found {
		t.Fatalf("check without policy = %d, %v, %v", v, found, err)
	}
	s.AddSigningRule(ctx, meta.SigningRule{Project: "p", Repositories: "**", Mode: "enforce", Spec: `{}`})
	pv := signingVersion(t, s, "p")
	v, _, found, err = s.SignatureCheck(ctx, "p", "p/app", d)
	if err != nil || v != pv || found {
		t.Fatalf("check without result = %d, %v, %v", v, found, err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.PutSignatureResult(ctx, meta.SignatureResult{Repository: "p/app", Digest: d, Version: pv, Result: `{"ok":true}`, VerifiedAt: at}); err != nil {
		t.Fatal(err)
	}
	v, r, found, err := s.SignatureCheck(ctx, "p", "p/app", d)
	if err != nil || v != pv || !found || r.Version != pv || r.Result != `{"ok":true}` || !r.VerifiedAt.Equal(at) {
		t.Fatalf("check = %d, %+v, %v, %v", v, r, found, err)
	}
	// Replacing a result.
	if err := s.PutSignatureResult(ctx, meta.SignatureResult{Repository: "p/app", Digest: d, Version: pv, Result: `{"ok":false}`, VerifiedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, r, _, _ := s.SignatureCheck(ctx, "p", "p/app", d); r.Result != `{"ok":false}` {
		t.Fatalf("replaced result = %+v", r)
	}
	// Results are per repository.
	if _, _, found, _ := s.SignatureCheck(ctx, "p", "p/other", d); found {
		t.Fatal("result found in another repository")
	}
	s.PutSignatureResult(ctx, meta.SignatureResult{Repository: "p/other", Digest: d, Version: pv, Result: `{}`, VerifiedAt: at})
	s.PutSignatureResult(ctx, meta.SignatureResult{Repository: "pq/app", Digest: d, Version: 1, Result: `{}`, VerifiedAt: at})
	s.PutSignatureResult(ctx, meta.SignatureResult{Repository: "p", Digest: dg("x"), Version: 1, Result: `{}`, VerifiedAt: at})
	of, err := s.SignatureResultsOf(ctx, "p", 10)
	if err != nil || len(of) != 3 || of[0].Repository != "p" || of[1].Repository != "p/app" || of[2].Repository != "p/other" || of[1].Digest != d {
		t.Fatalf("SignatureResultsOf = %+v, %v", of, err)
	}
	if of, _ := s.SignatureResultsOf(ctx, "p", 1); len(of) != 1 {
		t.Fatalf("SignatureResultsOf limited to 1 = %+v", of)
	}
	if err := s.DeleteSignatureResults(ctx, "p/app"); err != nil {
		t.Fatal(err)
	}
	if _, _, found, _ := s.SignatureCheck(ctx, "p", "p/app", d); found {
		t.Fatal("result kept after DeleteSignatureResults")
	}
	if _, _, found, _ := s.SignatureCheck(ctx, "p", "p/other", d); !found {
		t.Fatal("DeleteSignatureResults removed another repository's result")
	}
}

func testIndexesListing(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	child := manifest("r", "child", c)
	if err := s.PutManifest(ctx, child, nil); err != nil {
		t.Fatal(err)
	}
	idx := &meta.Manifest{Repository: "r", Digest: dg("index"), MediaType: "application/vnd.oci.image.index.v1+json",
		Content: []byte("index"), Children: []digest.Digest{child.Digest}}
	if err := s.PutManifest(ctx, idx, []string{"multi"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.IndexesListing(ctx, "r", child.Digest)
	if err != nil || len(got) != 1 || got[0] != idx.Digest {
		t.Fatalf("IndexesListing = %v, %v", got, err)
	}
	if got, err := s.IndexesListing(ctx, "other", child.Digest); err != nil || len(got) != 0 {
		t.Fatalf("IndexesListing in another repository = %v, %v", got, err)
	}
}
