package app_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/scrub"
	"github.com/berth-registry/berth/internal/storage"
)

// scrape reads /metrics into sample values keyed by name{labels}.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	r := send(t, "GET", base+"/metrics", "", nil, nil)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				if l.GetName() == "path" {
					continue
				}
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestOperationsMetrics(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}.basic()
	blob := []byte("ops metrics layer")
	dgst := digest.FromBytes(blob)
	steps := []struct {
		method, path, authz string
		body                []byte
		want                int
	}{
		{"POST", "/v2/library/app/blobs/uploads/?digest=" + dgst.String(), admin, blob, http.StatusCreated},
		{"GET", "/v2/library/app/blobs/" + dgst.String(), admin, nil, http.StatusOK},
		{"GET", "/v2/library/app/blobs/" + dgst.String(), admin, nil, http.StatusOK}, // a cached login
		{"GET", "/v2/library/app/manifests/missing", admin, nil, http.StatusNotFound},
		{"GET", "/v2/library/app/manifests/v1", cred{"admin", "wrong"}.basic(), nil, http.StatusUnauthorized},
		{"PUT", "/v2/library/app/manifests/v1", admin, []byte("{not json"), http.StatusBadRequest},
	}
	for _, st := range steps {
		if r := send(t, st.method, s.URL+st.path, st.authz, st.body, nil); r.status != st.want {
			t.Fatalf("%s %s: %d %s, want %d", st.method, st.path, r.status, r.body, st.want)
		}
	}
	got := scrape(t, s.URL)
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{"berth_pulls_total{kind=blob,result=success}", 2},
		{"berth_pulls_total{kind=manifest,result=not_found}", 1},
		{"berth_pulls_total{kind=manifest,result=unauthorized}", 1},
		{"berth_pulls_total{kind=manifest,result=error}", 0},
		{"berth_pushes_total{kind=manifest,result=rejected}", 1},
		{"berth_login_duration_seconds{result=success}", 1},
		{"berth_login_duration_seconds{result=cached}", 4},
		{"berth_login_duration_seconds{result=failure}", 1},
		{"berth_ready{component=database}", 1},
		{"berth_ready{component=storage}", 1},
	} {
		if v, ok := got[tc.series]; !ok || v != tc.want {
			t.Errorf("%s = %v (present %v), want %v", tc.series, v, ok, tc.want)
		}
	}
	for _, vol := range []string{"storage", "database"} {
		size, avail := got["berth_filesystem_size_bytes{volume="+vol+"}"], got["berth_filesystem_avail_bytes{volume="+vol+"}"]
		if size <= 0 || avail <= 0 || avail > size {
			t.Errorf("volume %s: size %v, avail %v", vol, size, avail)
		}
	}
}

// TestScrubMetrics: a scrub run that finds a blob's file gone counts a
// damaged run and a missing blob.
func TestScrubMetrics(t *testing.T) {
	s := apptest.Start(t, nil)
	blob := []byte("a layer scrub will miss")
	dgst := digest.FromBytes(blob)
	if st, body := pushBlob(t, s.URL, "team/app", blob); st != http.StatusCreated {
		t.Fatalf("push: %d %s", st, body)
	}
	if _, err := s.App.Jobs().RunNow(context.Background(), scrub.JobName, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.Config.Storage.Filesystem.Root, storage.BlobPath(dgst))); err != nil {
		t.Fatal(err)
	}
	s.App.Jobs().RunNow(context.Background(), scrub.JobName, "") // its error, if any, is the damage found
	got := scrape(t, s.URL)
	for series, want := range map[string]float64{
		"berth_scrub_runs_total{result=ok}":             1,
		"berth_scrub_runs_total{result=damaged}":        1,
		"berth_scrub_runs_total{result=error}":          0,
		"berth_scrub_damaged_blobs_total{kind=missing}": 1,
		"berth_scrub_damaged_blobs_total{kind=corrupt}": 0,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	if got["berth_scrub_last_success_timestamp_seconds{}"] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v", got["berth_scrub_last_success_timestamp_seconds{}"])
	}
}
