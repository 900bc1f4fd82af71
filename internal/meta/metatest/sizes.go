package metatest

import (
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// sizeTests: a push's declared descriptor sizes are checked by the store
// in the push's transaction; aggregated pull events keep their count.
var sizeTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"PutManifestChecksSizes", testPutManifestSizes},
	{"AuditPullAggregates", testAuditAggregates},
}

func testPutManifestSizes(t *testing.T, s meta.Store) {
	cfg := mustPutBlob(t, s, "r", "config")  // 6 bytes
	layer := mustPutBlob(t, s, "r", "layer") // 5 bytes
	child := manifest("r", "child-manifest", cfg, layer)
	if err := s.PutManifest(ctx, child, nil); err != nil {
		t.Fatal(err)
	}
	index := func(sizes map[digest.Digest]int64) *meta.Manifest {
		return &meta.Manifest{Repository: "r", Digest: dg("index"), MediaType: "application/vnd.oci.image.index.v1+json",
			Content: []byte("index"), Children: []digest.Digest{child.Digest}, Sizes: sizes}
	}
	image := func(sizes map[digest.Digest]int64) *meta.Manifest {
		m := manifest("r", "image", cfg, layer)
		m.Sizes = sizes
		return m
	}
	tests := []struct {
		name string
		m    *meta.Manifest
		bad  digest.Digest // the reference a *SizeError names; "" for success
		kind string
		had  int64
	}{
		{"layer too large", image(map[digest.Digest]int64{cfg: 6, layer: 1 << 62}), layer, "blob", 5},
		{"config off by one", image(map[digest.Digest]int64{cfg: 7, layer: 5}), cfg, "blob", 6},
		{"child size wrong", index(map[digest.Digest]int64{child.Digest: 99}), child.Digest, "manifest", int64(len(child.Content))},
		{"no sizes declared", image(nil), "", "", 0},
		{"sizes right", image(map[digest.Digest]int64{cfg: 6, layer: 5}), "", "", 0},
		{"child size right", index(map[digest.Digest]int64{child.Digest: int64(len(child.Content))}), "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.PutManifest(ctx, tc.m, []string{"v1"})
			if tc.bad == "" {
				if err != nil {
					t.Fatalf("PutManifest: %v", err)
				}
				return
			}
			var se *meta.SizeError
			if !errors.As(err, &se) || !errors.Is(err, meta.ErrSizeMismatch) {
				t.Fatalf("PutManifest = %v, want a *meta.SizeError", err)
			}
			if se.Digest != tc.bad || se.Kind != tc.kind || se.Actual != tc.had || se.Declared != tc.m.Sizes[tc.bad] {
				t.Fatalf("SizeError = %+v, want %s %s of %d bytes", se, tc.kind, tc.bad, tc.had)
			}
			// Nothing of the refused push was stored.
			if _, err := s.Manifest(ctx, "r", tc.m.Digest); !errors.Is(err, meta.ErrNotFound) {
				t.Fatalf("refused manifest stored: %v", err)
			}
			if _, err := s.ResolveTag(ctx, "r", "v1"); !errors.Is(err, meta.ErrNotFound) {
				t.Fatalf("tag of a refused push: %v", err)
			}
		})
	}
	// A missing reference is still a *MissingError, sizes or not.
	m := manifest("r", "missing", dg("absent"))
	m.Sizes = map[digest.Digest]int64{dg("absent"): 3}
	var missing *meta.MissingError
	if err := s.PutManifest(ctx, m, nil); !errors.As(err, &missing) {
		t.Fatalf("missing reference = %v", err)
	}
}

// testAuditAggregates: an aggregate of pulls (Requests >= 1) is stored and
// read back with its count, by the API's query and the anomaly job's.
func testAuditAggregates(t *testing.T, s meta.Store) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	events := []meta.AuditEvent{
		{Time: t0, Action: "pull", User: "ann", Repository: "team/app", Reference: "v1", Digest: "sha256:aa",
			Status: "success", HTTPStatus: 200, Duration: time.Millisecond, ClientIP: "10.0.0.1", Requests: 1234},
		{Time: t0.Add(time.Second), Action: "pull", Repository: "team/app", Reference: "gone", Status: "failure",
			HTTPStatus: 404, RequestID: "r2"},
	}
	if err := s.AppendAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditEvents(ctx, meta.AuditFilter{Action: "pull"})
	if err != nil || len(got) != 2 {
		t.Fatalf("AuditEvents = %v, %v", got, err)
	}
	if got[1].Requests != 1234 || got[1].Pulls() != 1234 || got[0].Requests != 0 || got[0].Pulls() != 1 {
		t.Fatalf("counts: %+v", got)
	}
	pulls, _, err := s.PullEventsAfter(ctx, 0, 10)
	if err != nil || len(pulls) != 2 || pulls[0].Requests != 1234 {
		t.Fatalf("PullEventsAfter = %+v, %v", pulls, err)
	}
}
